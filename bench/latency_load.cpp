// SPDX-License-Identifier: Apache-2.0
// workload_load's latency scenarios: unary calls, a new connection's first message, startup.
#include "latency_load.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <random>

#include "bench_echo.grpc.pb.h"
#include "raw_h2_probe.h"
#include "workload.grpc.pb.h"

namespace lanyard::bench {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(5);
constexpr int kWarmup = 200;

void setDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

// One timed call; `call` returns its status. Failures count as errors, not samples.
template <class Call>
void timeCall(std::vector<double>& samples, UnaryResult& result, Call call) {
  const auto start = Clock::now();
  grpc::Status status = call();
  const auto end = Clock::now();
  if (!status.ok()) {
    ++result.errors;
    result.lastError = status.error_message();
    return;
  }
  samples.push_back(micros(end - start));
}

// The first message of a stream on a brand-new connection, timed from channel creation.
template <class Stub, class Request, class Response, class Open>
grpc::Status firstMessage(const std::string& socketPath, const Request& request, Response& response,
                          Open open) {
  auto channel = newConnection(socketPath);
  auto stub = Stub::NewStub(channel);
  grpc::ClientContext context;
  setDeadline(context);
  addSecurityHeader(context);
  auto reader = open(*stub, context, request);
  if (reader->Read(&response)) {
    context.TryCancel();
    reader->Finish();  // CANCELLED: the stream was only opened for its first message
    return grpc::Status::OK;
  }
  return reader->Finish();
}

grpc::Status firstX509Status(const std::string& socketPath, X509SVIDResponse& response) {
  return firstMessage<SpiffeWorkloadAPI>(
      socketPath, X509SVIDRequest(), response,
      [](SpiffeWorkloadAPI::Stub& stub, grpc::ClientContext& c, const X509SVIDRequest& r) {
        return stub.FetchX509SVID(&c, r);
      });
}

}  // namespace

size_t firstX509(const std::string& socketPath, std::string& error) {
  X509SVIDResponse response;
  grpc::Status status = firstX509Status(socketPath, response);
  if (!status.ok()) {
    error = status.error_message();
    return 0;
  }
  return response.ByteSizeLong();
}

UnaryResult measureUnary(const std::string& bareSocket, const std::string& daemonSocket, int rounds,
                         int calls) {
  UnaryResult result;
  auto bare = BenchEcho::NewStub(newConnection(bareSocket));
  auto workload = SpiffeWorkloadAPI::NewStub(newConnection(daemonSocket));
  EchoRequest echo;
  echo.set_payload("ping");
  JWTSVIDRequest fetch;
  fetch.add_audience("bench");
  ValidateJWTSVIDRequest validate;
  validate.set_audience("bench");

  auto echoCall = [&] {
    grpc::ClientContext c;
    setDeadline(c);
    EchoReply reply;
    return bare->Echo(&c, echo, &reply);
  };
  std::string token;
  auto fetchCall = [&] {
    grpc::ClientContext c;
    setDeadline(c);
    addSecurityHeader(c);
    JWTSVIDResponse reply;
    grpc::Status s = workload->FetchJWTSVID(&c, fetch, &reply);
    if (s.ok() && reply.svids_size() > 0) {
      token = reply.svids(0).svid();
    }
    return s;
  };
  auto validateCall = [&] {
    grpc::ClientContext c;
    setDeadline(c);
    addSecurityHeader(c);
    ValidateJWTSVIDResponse reply;
    return workload->ValidateJWTSVID(&c, validate, &reply);
  };

  std::vector<double> warm;
  for (int i = 0; i < kWarmup; ++i) {
    timeCall(warm, result, echoCall);
    timeCall(warm, result, fetchCall);
  }
  validate.set_svid(token);
  for (int i = 0; i < kWarmup; ++i) {
    timeCall(warm, result, validateCall);
  }

  std::vector<double> floor, fetched, validated;
  std::vector<std::pair<std::vector<double>*, std::function<grpc::Status()>>> kinds = {
      {&floor, echoCall}, {&fetched, fetchCall}, {&validated, validateCall}};
  std::mt19937 rng(42);
  for (int r = 0; r < rounds; ++r) {
    std::shuffle(kinds.begin(), kinds.end(), rng);
    for (auto& [samples, call] : kinds) {
      for (int i = 0; i < calls; ++i) {
        timeCall(*samples, result, call);
      }
    }
  }
  result.floor = summarize(std::move(floor));
  result.fetchJwt = summarize(std::move(fetched));
  result.validateJwt = summarize(std::move(validated));
  return result;
}

ConnectResult measureNewConnections(const std::string& bareSocket, const std::string& daemonSocket,
                                    int connections) {
  ConnectResult result;
  std::string error;
  result.x509Bytes = firstX509(daemonSocket, error);  // mints the SVID: cached from here on
  WatchRequest watch;
  watch.set_size(static_cast<uint32_t>(std::max<size_t>(result.x509Bytes, 1)));
  std::vector<double> workload, floor, workloadConnected, floorConnected;
  auto record = [&](std::vector<double>& samples, Clock::time_point start,
                    const grpc::Status& status) {
    const auto end = Clock::now();
    if (!status.ok()) {
      ++result.errors;
      result.lastError = status.error_message();
      return;
    }
    samples.push_back(micros(end - start));
  };
  for (int i = 0; i < connections; ++i) {
    auto start = Clock::now();
    X509SVIDResponse svid;
    record(workload, start, firstX509Status(daemonSocket, svid));

    start = Clock::now();
    WatchReply reply;
    record(floor, start,
           firstMessage<BenchEcho>(bareSocket, watch, reply,
                                   [](BenchEcho::Stub& stub, grpc::ClientContext& c,
                                      const WatchRequest& r) { return stub.Watch(&c, r); }));

    // The same without a call: how much of the above is the connection itself.
    for (auto [socket, samples] :
         {std::pair{&daemonSocket, &workloadConnected}, std::pair{&bareSocket, &floorConnected}}) {
      start = Clock::now();
      auto channel = newConnection(*socket);
      const bool ok = channel->WaitForConnected(std::chrono::system_clock::now() + kCallTimeout);
      record(
          *samples, start,
          ok ? grpc::Status::OK : grpc::Status(grpc::StatusCode::UNAVAILABLE, "never connected"));
    }
  }
  result.workloadConnected = summarize(std::move(workloadConnected));
  result.floorConnected = summarize(std::move(floorConnected));
  result.workload = summarize(std::move(workload));
  result.floor = summarize(std::move(floor));
  return result;
}

RawConnectResult measureRawConnections(const std::string& bareSocket,
                                       const std::string& daemonSocket, int connections,
                                       size_t watchSize) {
  RawConnectResult result;
  WatchRequest watch;
  watch.set_size(static_cast<uint32_t>(std::max<size_t>(watchSize, 1)));
  const std::string watchBytes = watch.SerializeAsString();
  // A sample counts only when the message parses as the expected response: an X509SVIDResponse
  // with at least one SVID, or a WatchReply of the requested size.
  auto probe = [&](std::vector<double>* samples, bool x509) {
    RawFirstMessage r =
        x509 ? rawFirstMessage(daemonSocket, "/SpiffeWorkloadAPI/FetchX509SVID", "")
             : rawFirstMessage(bareSocket, "/lanyard.bench.BenchEcho/Watch", watchBytes);
    if (r.ok && x509) {
      X509SVIDResponse svid;
      if (!svid.ParseFromString(r.message) || svid.svids_size() == 0) {
        r.ok = false;
        r.error = "FetchX509SVID answered without an SVID";
      }
    } else if (r.ok) {
      WatchReply reply;
      if (!reply.ParseFromString(r.message) || reply.payload().size() != watch.size()) {
        r.ok = false;
        r.error = "Watch answered with a wrong message";
      }
    }
    if (!r.ok) {
      ++result.errors;
      result.lastError = r.error;
    } else if (samples != nullptr) {
      samples->push_back(r.micros);
    }
  };
  for (int i = 0; i < 20; ++i) {
    probe(nullptr, true);
    probe(nullptr, false);
  }
  std::vector<double> workload, floor;
  for (int i = 0; i < connections; ++i) {
    probe(&workload, true);
    probe(&floor, false);
  }
  result.workload = summarize(std::move(workload));
  result.floor = summarize(std::move(floor));
  return result;
}

StartupResult measureStartup(const std::string& daemonPath, int runs) {
  StartupResult result;
  TempDir dir;
  const std::string socket = dir.path() + "/agent.sock";
  const std::string dataDir = dir.path() + "/data";
  const std::string config = writeDaemonConfig(dir.path(), dataDir, "1h");
  const std::string log = dir.path() + "/lanyardd.log";
  std::vector<double> samples[2], connectable[2];  // [0] existing data_dir, [1] fresh

  auto startOnce = [&](bool fresh, bool measured) {
    if (fresh) {
      std::filesystem::remove_all(dataDir);
    }
    auto child = Child::spawn({daemonPath, "--config", config}, log);
    if (!waitConnectable(socket, std::chrono::seconds(5))) {
      ++result.failures;
      result.lastError = "socket never accepted: " + tailOf(log, 400);
      return;
    }
    const auto accepted = Clock::now();
    std::string error;
    if (firstX509(socket, error) == 0) {
      ++result.failures;
      result.lastError = error;
      return;
    }
    const auto served = Clock::now();
    if (measured) {
      samples[fresh ? 1 : 0].push_back(micros(served - child->started()) / 1000.0);
      connectable[fresh ? 1 : 0].push_back(micros(accepted - child->started()) / 1000.0);
    }
    child->stop();
  };
  startOnce(true, false);  // creates the data_dir and warms the page cache
  for (int i = 0; i < runs; ++i) {
    startOnce(false, true);
    startOnce(true, true);
  }
  result.existing = summarize(samples[0]);
  result.fresh = summarize(samples[1]);
  result.existingConnectable = summarize(connectable[0]);
  result.freshConnectable = summarize(connectable[1]);
  return result;
}

}  // namespace lanyard::bench
