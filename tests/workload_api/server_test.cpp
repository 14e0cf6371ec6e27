// SPDX-License-Identifier: Apache-2.0
// Tests for workload_api/server.cpp, service.cpp and push_stream.h against fake attestation
// and identities: the socket, the peer table, status codes (WAPI-4, WAPI-5) and streams
// (WAPI-6).
#include "workload_api/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

#include <catch2/catch.hpp>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/server_posix.h>

#include "fake_identity.h"
#include "health.grpc.pb.h"
#include "support/temp_dir.h"

namespace lanyard::workload_api {
namespace {

using testing::headerContext;
using testing::RunningServer;

// Records the peer string gRPC gives a call.
class PeerRecorder final : public grpc::health::v1::Health::CallbackService {
 public:
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest*,
                                  grpc::health::v1::HealthCheckResponse* resp) override {
    peer = ctx->peer();
    resp->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  std::string peer;
};

template <class Response>
std::vector<Response> readN(grpc::ClientReader<Response>& reader, size_t n) {
  std::vector<Response> out;
  Response r;
  while (out.size() < n && reader.Read(&r)) {
    out.push_back(r);
  }
  return out;
}

TEST_CASE("grpc names a channel added from a descriptor fd:N", "[workload_api][peer]") {
  // DESIGN.md §1: the peer table is keyed by this string. An upgrade that changes it must
  // fail here, loudly, rather than leave every caller unknown.
  PeerRecorder recorder;
  grpc::ServerBuilder builder;
  builder.RegisterService(&recorder);
  auto server = builder.BuildAndStart();
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  grpc::AddInsecureChannelFromFd(server.get(), fds[0]);
  auto channel = grpc::CreateInsecureChannelFromFd("test", fds[1]);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckResponse resp;
  REQUIRE(stub->Check(&ctx, {}, &resp).ok());
  CHECK(recorder.peer == "fd:" + std::to_string(fds[0]));
  CHECK(fdFromPeerString(recorder.peer) == fds[0]);
  server->Shutdown();
}

TEST_CASE("peer strings other than fd:N name no connection", "[workload_api][peer]") {
  CHECK(fdFromPeerString("fd:7") == 7);
  CHECK_FALSE(fdFromPeerString("fd:"));
  CHECK_FALSE(fdFromPeerString("fd:-1"));
  CHECK_FALSE(fdFromPeerString("fd:7x"));
  CHECK_FALSE(fdFromPeerString("unix:/tmp/x"));
  CHECK_FALSE(fdFromPeerString("ipv4:127.0.0.1:80"));
}

TEST_CASE("the server answers with the caller's pid and uid from the socket",
          "[workload_api][server]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  struct stat st {};
  REQUIRE(::stat(s.server_->socketPath().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0777);  // EP-6

  auto stub = s.stub();
  auto ctx = headerContext();
  JWTSVIDRequest req;
  req.add_audience("aud");
  JWTSVIDResponse resp;
  grpc::Status status = stub->FetchJWTSVID(ctx.get(), req, &resp);
  REQUIRE(status.error_message() == "");
  REQUIRE(status.ok());
  REQUIRE(resp.svids_size() == 1);
  CHECK(resp.svids(0).spiffe_id() == "spiffe://example.org/workload");
  std::lock_guard lock(s.attestation_.mu);
  REQUIRE(s.attestation_.callers.size() == 1);
  CHECK(s.attestation_.callers[0].pid == ::getpid());
  CHECK(s.attestation_.callers[0].uid == ::getuid());
  CHECK(s.attestation_.callers[0].pidfd >= 0);
}

TEST_CASE("a connection's attestation is reused only while its process is unchanged",
          "[workload_api][server]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  auto stub = s.stub();  // one channel: one connection
  JWTSVIDRequest req;
  req.add_audience("aud");
  auto call = [&] {
    JWTSVIDResponse resp;
    auto ctx = headerContext();
    return stub->FetchJWTSVID(ctx.get(), req, &resp);
  };
  auto attestations = [&] {
    std::lock_guard lock(s.attestation_.mu);
    return s.attestation_.callers.size();
  };
  REQUIRE(call().ok());
  REQUIRE(call().ok());
  CHECK(attestations() == 1);
  SECTION("an exec (another executable) is attested again") {
    {
      std::lock_guard lock(s.attestation_.mu);
      s.attestation_.stampKey = "exe-2";
    }
    REQUIRE(call().ok());
    CHECK(attestations() == 2);
  }
  SECTION("a process now running as another uid gets nothing") {
    {
      std::lock_guard lock(s.attestation_.mu);
      s.attestation_.stampUid = ::getuid() + 1;
    }
    CHECK(call().error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }
  SECTION("a replaced process gets nothing, even with a reusable attestation") {
    {
      std::lock_guard lock(s.attestation_.mu);
      s.attestation_.replaced = true;
    }
    CHECK(call().error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_CASE("calls without the security header are refused before attestation (WAPI-4)",
          "[workload_api][server]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  auto stub = s.stub();
  SECTION("missing") {
    grpc::ClientContext ctx;
    JWTSVIDRequest req;
    req.add_audience("aud");
    JWTSVIDResponse resp;
    CHECK(stub->FetchJWTSVID(&ctx, req, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    grpc::ClientContext sctx;
    auto reader = stub->FetchX509SVID(&sctx, {});
    X509SVIDResponse m;
    CHECK_FALSE(reader->Read(&m));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("not true") {
    grpc::ClientContext ctx;
    ctx.AddMetadata("workload.spiffe.io", "True");
    ValidateJWTSVIDRequest req;
    ValidateJWTSVIDResponse resp;
    CHECK(stub->ValidateJWTSVID(&ctx, req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("twice") {
    grpc::ClientContext ctx;
    ctx.AddMetadata("workload.spiffe.io", "true");
    ctx.AddMetadata("workload.spiffe.io", "true");
    auto reader = stub->FetchJWTBundles(&ctx, {});
    JWTBundlesResponse m;
    CHECK_FALSE(reader->Read(&m));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  std::lock_guard lock(s.attestation_.mu);
  CHECK(s.attestation_.callers.empty());
}

TEST_CASE("status codes follow WAPI-5", "[workload_api][server]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  auto stub = s.stub();
  JWTSVIDRequest req;
  req.add_audience("aud");
  JWTSVIDResponse resp;
  SECTION("attestation failure is UNAVAILABLE") {
    s.attestation_.attestError = Error{Code::Unavailable, "every attestor failed"};
    auto ctx = headerContext();
    CHECK(stub->FetchJWTSVID(ctx.get(), req, &resp).error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  SECTION("a replaced caller gets no identity") {
    s.attestation_.replaced = true;
    auto ctx = headerContext();
    auto status = stub->FetchJWTSVID(ctx.get(), req, &resp);
    CHECK(status.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(resp.svids_size() == 0);
  }
  SECTION("no identity is PERMISSION_DENIED on every RPC") {
    s.source_.setIds({});
    auto ctx = headerContext();
    CHECK(stub->FetchJWTSVID(ctx.get(), req, &resp).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
    auto sctx = headerContext();
    auto reader = stub->FetchX509SVID(sctx.get(), {});
    X509SVIDResponse m;
    CHECK_FALSE(reader->Read(&m));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);
    auto bctx = headerContext();
    auto breader = stub->FetchX509Bundles(bctx.get(), {});
    X509BundlesResponse b;
    CHECK_FALSE(breader->Read(&b));
    CHECK(breader->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);
  }
  SECTION("missing audience is INVALID_ARGUMENT") {
    JWTSVIDRequest empty;
    empty.add_audience("");
    auto ctx = headerContext();
    CHECK(stub->FetchJWTSVID(ctx.get(), empty, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("a bad spiffe_id is INVALID_ARGUMENT, another one PERMISSION_DENIED") {
    req.set_spiffe_id("spiffe://example.org/../x");
    auto ctx = headerContext();
    CHECK(stub->FetchJWTSVID(ctx.get(), req, &resp).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
    req.set_spiffe_id("spiffe://example.org/other");
    auto ctx2 = headerContext();
    CHECK(stub->FetchJWTSVID(ctx2.get(), req, &resp).error_code() ==
          grpc::StatusCode::PERMISSION_DENIED);
  }
  SECTION("an invalid token is INVALID_ARGUMENT") {
    ValidateJWTSVIDRequest v;
    v.set_audience("aud");
    v.set_svid("not.a.token");
    ValidateJWTSVIDResponse vr;
    auto ctx = headerContext();
    CHECK(stub->ValidateJWTSVID(ctx.get(), v, &vr).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
  SECTION("WIT is UNIMPLEMENTED") {
    auto ctx = headerContext();
    auto reader = stub->FetchWITSVID(ctx.get(), {});
    WITSVIDResponse m;
    CHECK_FALSE(reader->Read(&m));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::UNIMPLEMENTED);
  }
}

TEST_CASE("a minted JWT-SVID validates through the service with its claims (WAPI-14)",
          "[workload_api][server]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  auto stub = s.stub();
  JWTSVIDRequest req;
  req.add_audience("a1");
  req.add_audience("a2");
  JWTSVIDResponse resp;
  auto ctx = headerContext();
  REQUIRE(stub->FetchJWTSVID(ctx.get(), req, &resp).ok());
  ValidateJWTSVIDRequest v;
  v.set_audience("a2");
  v.set_svid(resp.svids(0).svid());
  ValidateJWTSVIDResponse vr;
  auto vctx = headerContext();
  REQUIRE(stub->ValidateJWTSVID(vctx.get(), v, &vr).ok());
  CHECK(vr.spiffe_id() == "spiffe://example.org/workload");
  const auto& fields = vr.claims().fields();
  CHECK(fields.at("sub").string_value() == "spiffe://example.org/workload");
  CHECK(fields.at("aud").list_value().values_size() == 2);
  CHECK(fields.at("exp").number_value() > 0);
}

TEST_CASE("streams send at once, then on every change, skipping identical states (WAPI-6)",
          "[workload_api][stream]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  auto stub = s.stub();
  auto ctx = headerContext(10000);
  auto reader = stub->FetchX509SVID(ctx.get(), {});
  auto first = readN(*reader, 1);
  REQUIRE(first.size() == 1);
  REQUIRE(first[0].svids_size() == 1);
  CHECK(first[0].svids(0).spiffe_id() == "spiffe://example.org/workload");
  CHECK_FALSE(first[0].svids(0).bundle().empty());

  // A notification with nothing changed sends nothing; the next real change arrives next.
  s.source_.notifyAll();
  s.source_.setIds({"spiffe://example.org/a", "spiffe://example.org/b"});
  auto second = readN(*reader, 1);
  REQUIRE(second.size() == 1);
  REQUIRE(second[0].svids_size() == 2);
  CHECK(second[0].svids(0).spiffe_id() == "spiffe://example.org/a");
  CHECK(s.server_->openStreams() == 1);

  // WAPI-5: identities gone while open ends the stream with PERMISSION_DENIED.
  s.source_.setIds({});
  X509SVIDResponse m;
  CHECK_FALSE(reader->Read(&m));
  CHECK(reader->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);
}

TEST_CASE("a burst of changes coalesces and ends on the newest state", "[workload_api][stream]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  auto stub = s.stub();
  auto ctx = headerContext(10000);
  auto reader = stub->FetchX509SVID(ctx.get(), {});
  REQUIRE(readN(*reader, 1).size() == 1);
  for (int i = 0; i < 50; ++i) {
    s.source_.setIds({"spiffe://example.org/n" + std::to_string(i)});
  }
  // Every message is a whole state; the last one read is the last state set.
  X509SVIDResponse m;
  std::string last;
  int messages = 0;
  while (last != "spiffe://example.org/n49" && reader->Read(&m)) {
    ++messages;
    last = m.svids(0).spiffe_id();
  }
  CHECK(last == "spiffe://example.org/n49");
  CHECK(messages <= 50);
  ctx->TryCancel();
}

TEST_CASE("bundle streams key bundles by spiffe://td (WAPI-12)", "[workload_api][stream]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  auto stub = s.stub();
  auto xctx = headerContext();
  auto x = stub->FetchX509Bundles(xctx.get(), {});
  auto xm = readN(*x, 1);
  REQUIRE(xm.size() == 1);
  CHECK(xm[0].bundles().count("spiffe://example.org") == 1);
  auto jctx = headerContext();
  auto j = stub->FetchJWTBundles(jctx.get(), {});
  auto jm = readN(*j, 1);
  REQUIRE(jm.size() == 1);
  CHECK(jm[0].bundles().at("spiffe://example.org").find("\"keys\"") != std::string::npos);
  xctx->TryCancel();
  jctx->TryCancel();
}

TEST_CASE("closed connections leave the peer table", "[workload_api][peer]") {
  lanyard::testing::TempDir dir;
  RunningServer s(dir.path());
  {
    auto stub = s.stub();
    auto ctx = headerContext();
    JWTSVIDRequest req;
    req.add_audience("aud");
    JWTSVIDResponse resp;
    REQUIRE(stub->FetchJWTSVID(ctx.get(), req, &resp).ok());
    CHECK(s.server_->peers().size() == 1);
  }
  // gRPC closes the descriptor on its own time; a sweep then forgets it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (const_cast<PeerTable&>(s.server_->peers()).sweep() != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(s.server_->peers().size() == 0);
}

TEST_CASE("the socket path is checked before it is taken (EP-6)", "[workload_api][server]") {
  lanyard::testing::TempDir dir;
  boost::asio::io_context io;
  SystemClock clock;
  auto authority = svid::Authority::create(
      {.trustDomain = *svid::TrustDomain::parse("example.org"), .dataDir = dir.file("ca")}, clock);
  REQUIRE(authority);
  testing::FakeAttestation attestation;
  testing::FakeSource source(**authority);
  SECTION("a file that is not a socket is left alone") {
    std::ofstream(dir.file("agent.sock")) << "precious";
    auto server =
        Server::create(io, {.socketPath = dir.file("agent.sock")}, attestation, source, clock);
    REQUIRE_FALSE(server);
    CHECK(server.error().message ==
          dir.file("agent.sock") + " exists and is not a socket: refusing to replace it");
  }
  SECTION("a live server is not replaced; a stale socket is") {
    auto first =
        Server::create(io, {.socketPath = dir.file("agent.sock")}, attestation, source, clock);
    REQUIRE(first);
    auto second =
        Server::create(io, {.socketPath = dir.file("agent.sock")}, attestation, source, clock);
    REQUIRE_FALSE(second);
    CHECK(second.error().code == Code::AlreadyExists);
    // A socket file nobody listens on (a crashed agent) is replaced.
    (*first)->shutdown();
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, dir.file("agent.sock").c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(fd);
    auto third =
        Server::create(io, {.socketPath = dir.file("agent.sock")}, attestation, source, clock);
    CHECK(third);
  }
  SECTION("a relative or overlong path is refused") {
    auto server = Server::create(io, {.socketPath = "agent.sock"}, attestation, source, clock);
    REQUIRE_FALSE(server);
    CHECK(server.error().code == Code::InvalidArgument);
  }
}

}  // namespace
}  // namespace lanyard::workload_api
