// SPDX-License-Identifier: Apache-2.0
// Tests for workload_api/client/client_watch.cpp and x509_source.cpp: parse-and-skip, the
// reconnect backoff and its reset, the codes that end a watch (WAPI-16, EP-7), and stopping.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "fake_workload_api.h"
#include "support/result_matchers.h"
#include "support/temp_dir.h"
#include "workload_api/client/client.h"
#include "workload_api/client/x509_source.h"

namespace lanyard::workload_api {
namespace {

using std::chrono::milliseconds;
using testing::FakeServer;
using testing::TempDir;

using Steady = std::chrono::steady_clock;

long ms(Steady::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

/// Runs watchX509Context on a thread and records what it reports.
class WatchRun {
 public:
  explicit WatchRun(const Client& client)
      : thread_([this, &client](std::stop_token stop) {
          auto r = client.watchX509Context(
              stop,
              [this](X509Context c) {
                std::lock_guard lock(mutex_);
                ids_.push_back(c.defaultSvid().svid.id.str());
                changed_.notify_all();
              },
              [this](const Error& e) {
                std::lock_guard lock(mutex_);
                errors_.push_back(e);
                changed_.notify_all();
              });
          std::lock_guard lock(mutex_);
          result_ = std::move(r);
          done_ = true;
          changed_.notify_all();
        }) {}

  /// Waits (at most 3 s) until `n` updates, or the watch ended.
  bool waitUpdates(size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(3), [&] {
      return ids_.size() >= n || done_;
    }) && ids_.size() >= n;
  }
  bool waitErrors(size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(3), [&] { return errors_.size() >= n; });
  }
  /// Waits for the watch to return on its own.
  Result<void> waitDone() {
    std::unique_lock lock(mutex_);
    REQUIRE(changed_.wait_for(lock, std::chrono::seconds(3), [&] { return done_; }));
    return result_;
  }
  /// Requests the stop and returns how long the watch took to return.
  Steady::duration stop() {
    auto start = Steady::now();
    thread_.request_stop();
    thread_.join();
    return Steady::now() - start;
  }
  Result<void> result() {
    std::lock_guard lock(mutex_);
    return result_;
  }
  std::vector<std::string> ids() {
    std::lock_guard lock(mutex_);
    return ids_;
  }
  std::vector<Error> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> ids_;
  std::vector<Error> errors_;
  Result<void> result_;
  bool done_ = false;
  std::jthread thread_;
};

std::unique_ptr<Client> connect(const FakeServer& server, milliseconds initial = milliseconds(50),
                                milliseconds max = milliseconds(150)) {
  auto c = Client::create(server.address(), {.backoffInitial = initial, .backoffMax = max});
  REQUIRE(c);
  return std::move(*c);
}

std::vector<long> gaps(FakeServer& server) {
  std::lock_guard lock(server.api.mutex);
  std::vector<long> out;
  for (size_t i = 1; i < server.api.x509CallTimes.size(); ++i) {
    out.push_back(ms(server.api.x509CallTimes[i] - server.api.x509CallTimes[i - 1]));
  }
  return out;
}

TEST_CASE("a message that fails to parse is reported and skipped; the stream stays open (WAPI-16)",
          "[client][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto good = server.ids.x509Response();
  auto bad = good;
  bad.mutable_svids(0)->set_x509_svid("garbage");
  server.api.x509Handler = [&](int, grpc::ServerContext* ctx,
                               grpc::ServerWriter<X509SVIDResponse>* w) {
    w->Write(bad);
    w->Write(good);
    return testing::holdOpen(ctx);
  };
  auto client = connect(server);
  WatchRun run(*client);
  REQUIRE(run.waitUpdates(1));
  CHECK(run.ids() == std::vector<std::string>{"spiffe://example.org/web"});
  REQUIRE(run.errors().size() == 1);
  CHECK_THAT(run.errors()[0].message,
             Catch::StartsWith("watching X.509-SVIDs from " + server.address() +
                               ": skipping a message that does not parse: svids[0]"));
  run.stop();
  CHECK(run.result());
  CHECK(gaps(server).empty());  // one call only
}

TEST_CASE("a failing stream is retried after 1, 2, 3 … steps, capped (WAPI-16, EP-7)",
          "[client][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto good = server.ids.x509Response();
  server.api.x509Handler = [&](int call, grpc::ServerContext* ctx,
                               grpc::ServerWriter<X509SVIDResponse>* w) {
    if (call <= 2) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "not yet");
    }
    if (call <= 4) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no identity yet");
    }
    w->Write(good);
    return testing::holdOpen(ctx);
  };
  auto client = connect(server, milliseconds(50), milliseconds(120));
  WatchRun run(*client);
  REQUIRE(run.waitUpdates(1));
  run.stop();
  auto g = gaps(server);
  REQUIRE(g.size() == 4);
  const long expected[] = {50, 100, 120, 120};
  for (size_t i = 0; i < g.size(); ++i) {
    INFO("gap " << i << ": " << g[i] << " ms");
    CHECK(g[i] >= expected[i] - 2);
    CHECK(g[i] < expected[i] + 60);
  }
  auto errors = run.errors();
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].code == Code::Unavailable);
  CHECK(errors[0].message == "watching X.509-SVIDs from " + server.address() +
                                 ": unavailable: not yet (retrying in 50 ms)");
  CHECK(errors[2].code == Code::PermissionDenied);
}

TEST_CASE("every received message resets the backoff (WAPI-16)", "[client][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto good = server.ids.x509Response();
  server.api.x509Handler = [&](int call, grpc::ServerContext* ctx,
                               grpc::ServerWriter<X509SVIDResponse>* w) {
    w->Write(good);
    if (call <= 3) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
    }
    return testing::holdOpen(ctx);
  };
  auto client = connect(server, milliseconds(50), milliseconds(1000));
  WatchRun run(*client);
  REQUIRE(run.waitUpdates(4));
  run.stop();
  for (long g : gaps(server)) {
    CHECK(g >= 48);
    CHECK(g < 95);  // without the reset: 50, 100, 150
  }
}

TEST_CASE("a stream the server ends with OK is retried (WAPI-6)", "[client][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto good = server.ids.x509Response();
  server.api.x509Handler = [&](int call, grpc::ServerContext* ctx,
                               grpc::ServerWriter<X509SVIDResponse>* w) {
    if (call == 1) {
      return grpc::Status::OK;
    }
    w->Write(good);
    return testing::holdOpen(ctx);
  };
  auto client = connect(server);
  WatchRun run(*client);
  REQUIRE(run.waitUpdates(1));
  run.stop();
  REQUIRE(run.errors().size() == 1);
  CHECK_THAT(run.errors()[0].message, Catch::Contains("the server ended the stream"));
}

TEST_CASE("INVALID_ARGUMENT and CANCELLED end the watch without retry (WAPI-16)",
          "[client][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto code = GENERATE(grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::CANCELLED);
  server.api.x509Handler = [code](int, grpc::ServerContext*,
                                  grpc::ServerWriter<X509SVIDResponse>*) {
    return grpc::Status(code, "go away");
  };
  auto client = connect(server);
  WatchRun run(*client);
  auto r = run.waitDone();
  REQUIRE_FALSE(r);
  CHECK(static_cast<int>(r.error().code) == static_cast<int>(code));
  CHECK_THAT(r.error().message, Catch::EndsWith(": go away"));
  CHECK(run.errors().empty());
  CHECK(gaps(server).empty());
}

TEST_CASE("stopping ends a watch promptly, mid-stream or mid-backoff", "[client][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  SECTION("mid-stream") {
    auto client = connect(server);
    WatchRun run(*client);
    REQUIRE(run.waitUpdates(1));
    CHECK(ms(run.stop()) < 500);
    CHECK(run.result());
  }
  SECTION("mid-backoff") {
    server.api.failAll = grpc::Status(grpc::StatusCode::UNAVAILABLE, "down");
    auto client = connect(server, std::chrono::seconds(30), std::chrono::seconds(30));
    WatchRun run(*client);
    REQUIRE(run.waitErrors(1));
    CHECK(ms(run.stop()) < 500);
    CHECK(run.result());
  }
}

TEST_CASE("a watch delivers every rotation (WAPI-6)", "[client][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto client = connect(server);
  WatchRun run(*client);
  REQUIRE(run.waitUpdates(1));
  auto rotated = server.ids.x509Response();
  rotated.mutable_svids()->SwapElements(0, 1);
  server.api.setX509(rotated);
  REQUIRE(run.waitUpdates(2));
  run.stop();
  CHECK(run.ids() ==
        std::vector<std::string>{"spiffe://example.org/web", "spiffe://example.org/db"});
}

TEST_CASE("bundle watches deliver bundle maps", "[client][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto client = connect(server);
  std::atomic<size_t> x509Domains{0};
  std::atomic<size_t> jwtDomains{0};
  std::jthread x509([&](std::stop_token stop) {
    CHECK(client->watchX509Bundles(stop, [&](svid::BundleMap m) { x509Domains = m.size(); }));
  });
  std::jthread jwt([&](std::stop_token stop) {
    CHECK(client->watchJwtBundles(stop, [&](svid::BundleMap m) { jwtDomains = m.size(); }));
  });
  auto deadline = Steady::now() + std::chrono::seconds(3);
  while ((x509Domains == 0 || jwtDomains == 0) && Steady::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(x509Domains == 2);
  CHECK(jwtDomains == 1);
}

TEST_CASE("an X509Source blocks for the first context and follows rotations", "[client][source]") {
  TempDir dir;
  FakeServer server(dir.path());
  SECTION("ready") {
    auto source = X509Source::create(connect(server), std::chrono::seconds(3));
    REQUIRE(source);
    REQUIRE((*source)->current() != nullptr);
    CHECK((*source)->current()->defaultSvid().svid.id.str() == "spiffe://example.org/web");
    auto rotated = server.ids.x509Response();
    rotated.mutable_svids()->SwapElements(0, 1);
    server.api.setX509(rotated);
    auto deadline = Steady::now() + std::chrono::seconds(3);
    while ((*source)->updates() < 2 && Steady::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    CHECK((*source)->current()->defaultSvid().svid.id.str() == "spiffe://example.org/db");
    CHECK_FALSE((*source)->watchError());
    auto start = Steady::now();
    source->reset();
    CHECK(ms(Steady::now() - start) < 500);
  }
  SECTION("nothing arrives in time") {
    server.api.failAll = grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting");
    auto source = X509Source::create(connect(server), milliseconds(200));
    REQUIRE_FALSE(source);
    CHECK(source.error().code == Code::DeadlineExceeded);
    CHECK_THAT(source.error().message, Catch::Contains("last error: watching X.509-SVIDs"));
  }
  SECTION("the watch ends first") {
    server.api.failAll = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad request");
    auto source = X509Source::create(connect(server), std::chrono::seconds(3));
    REQUIRE_FALSE(source);
    CHECK(source.error().code == Code::InvalidArgument);
    CHECK_THAT(source.error().message,
               Catch::StartsWith("waiting for the first X.509-SVID from " + server.address()));
  }
}

}  // namespace
}  // namespace lanyard::workload_api
