// SPDX-License-Identifier: Apache-2.0
// Tests for workload_api/client/client.cpp against an in-process fake Workload API: the
// one-shot calls, the security header (WAPI-4), conversions and error mapping (WAPI-5).
#include "workload_api/client/client.h"

#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "fake_workload_api.h"
#include "support/result_matchers.h"
#include "support/temp_dir.h"

namespace lanyard::workload_api {
namespace {

using testing::FakeServer;
using testing::sid;
using testing::td;
using testing::TempDir;

std::unique_ptr<Client> connect(const FakeServer& server, ClientOptions options = {}) {
  auto c = Client::create(server.address(), options);
  REQUIRE(c);
  return std::move(*c);
}

TEST_CASE("fetchX509Context returns the SVIDs, default first, and every bundle (WAPI-8)",
          "[client]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto ctx = connect(server)->fetchX509Context();
  REQUIRE(ctx);
  REQUIRE(ctx->svids.size() == 2);
  CHECK(ctx->defaultSvid().svid.id.str() == "spiffe://example.org/web");
  CHECK(ctx->defaultSvid().hint == "internal");
  CHECK(ctx->svids[1].svid.id.str() == "spiffe://example.org/db");
  CHECK(ctx->svids[1].svid.keyDer.str() == server.ids.db.keyDer.str());
  REQUIRE(ctx->bundles.size() == 2);
  CHECK(ctx->bundles.at(td("example.org"))->x509Der() == server.ids.caDer());
  CHECK(ctx->bundles.at(td("other.org"))->x509Authorities().size() == 1);
  // The SVID verifies against the bundle the client built (WAPI-10).
  CHECK(svid::verifyX509Svid(ctx->defaultSvid().svid.chainDer(), ctx->bundles,
                             SystemClock::instance().now()));
  CHECK(server.api.calls == 1);
  CHECK(server.api.callsWithoutHeader == 0);  // WAPI-4
}

TEST_CASE("a later SVID repeating a hint is dropped, the first kept (WAPI-9)", "[client]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto r = server.ids.x509Response();
  r.mutable_svids(1)->set_hint("internal");
  server.api.setX509(r);
  auto ctx = connect(server)->fetchX509Context();
  REQUIRE(ctx);
  REQUIRE(ctx->svids.size() == 1);
  CHECK(ctx->defaultSvid().svid.id.str() == "spiffe://example.org/web");
}

TEST_CASE("a malformed X.509 response is an error naming the field", "[client]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto r = server.ids.x509Response();
  SECTION("spiffe_id differs from the certificate (WAPI-10)") {
    r.mutable_svids(0)->set_spiffe_id("spiffe://example.org/other");
    server.api.setX509(r);
    auto ctx = connect(server)->fetchX509Context();
    REQUIRE_FALSE(ctx);
    CHECK(ctx.error().code == Code::InvalidArgument);
    CHECK_THAT(ctx.error().message,
               Catch::StartsWith("fetching X.509-SVIDs from " + server.address() + ": svids[0]"));
  }
  SECTION("a federated bundle with bad DER") {
    (*r.mutable_federated_bundles())["spiffe://bad.org"] = "not der";
    server.api.setX509(r);
    auto ctx = connect(server)->fetchX509Context();
    REQUIRE_FALSE(ctx);
    CHECK_THAT(ctx.error().message, Catch::Contains("federated_bundles[\"spiffe://bad.org\"]"));
  }
  SECTION("no SVID at all (WAPI-8)") {
    r.clear_svids();
    server.api.x509Handler = [&r](int, grpc::ServerContext* ctx,
                                  grpc::ServerWriter<X509SVIDResponse>* w) {
      w->Write(r);
      return testing::holdOpen(ctx);
    };
    auto ctx = connect(server)->fetchX509Context();
    REQUIRE_FALSE(ctx);
    CHECK_THAT(ctx.error().message, Catch::Contains("no X.509-SVID"));
  }
}

TEST_CASE("bundles arrive by trust domain (WAPI-12)", "[client]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto client = connect(server);
  auto x509 = client->fetchX509Bundles();
  REQUIRE(x509);
  CHECK(x509->size() == 2);
  CHECK(x509->at(td("example.org"))->x509Der() == server.ids.caDer());
  auto jwt = client->fetchJwtBundles();
  REQUIRE(jwt);
  REQUIRE(jwt->size() == 1);
  CHECK(jwt->at(td("example.org"))->findJwtAuthority("kid-1") != nullptr);
  CHECK(server.api.callsWithoutHeader == 0);
}

TEST_CASE("fetchJwtSvids sends the audiences and subject and parses the tokens (WAPI-13)",
          "[client]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto client = connect(server);
  SECTION("every identity") {
    auto svids = client->fetchJwtSvids({"spiffe://example.org/api", "extra"});
    REQUIRE(svids);
    REQUIRE(svids->size() == 2);
    CHECK((*svids)[0].svid.subject.str() == "spiffe://example.org/web");
    CHECK((*svids)[0].svid.audience ==
          std::vector<std::string>{"spiffe://example.org/api", "extra"});
    std::lock_guard lock(server.api.mutex);
    CHECK(server.api.lastJwtRequest.audience_size() == 2);
    CHECK(server.api.lastJwtRequest.spiffe_id().empty());
  }
  SECTION("one identity") {
    auto svids = client->fetchJwtSvids({"a"}, sid("spiffe://example.org/db"));
    REQUIRE(svids);
    REQUIRE(svids->size() == 1);
    CHECK((*svids)[0].svid.subject.str() == "spiffe://example.org/db");
    std::lock_guard lock(server.api.mutex);
    CHECK(server.api.lastJwtRequest.spiffe_id() == "spiffe://example.org/db");
  }
  SECTION("no audience is refused before calling") {
    auto svids = client->fetchJwtSvids({});
    REQUIRE_FALSE(svids);
    CHECK(svids.error().code == Code::InvalidArgument);
    CHECK(server.api.calls == 0);
  }
}

TEST_CASE("validateJwtSvid returns the subject and claims, or the server's reason (WAPI-14)",
          "[client]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto client = connect(server);
  auto svids = client->fetchJwtSvids({"spiffe://example.org/api"});
  REQUIRE(svids);
  const std::string& token = (*svids)[0].svid.token;
  SECTION("valid") {
    auto v = client->validateJwtSvid(token, "spiffe://example.org/api");
    REQUIRE(v);
    CHECK(v->spiffeId.str() == "spiffe://example.org/web");
    CHECK(v->claims["sub"] == "spiffe://example.org/web");
    CHECK(v->claims["aud"] == nlohmann::json::array({"spiffe://example.org/api"}));
    CHECK(v->claims["exp"].is_number_integer());  // Struct doubles back as integers
  }
  SECTION("wrong audience") {
    auto v = client->validateJwtSvid(token, "spiffe://example.org/other");
    REQUIRE_FALSE(v);
    CHECK(v.error().code == Code::InvalidArgument);
    CHECK_THAT(v.error().message, Catch::StartsWith("validating a JWT-SVID with " +
                                                    server.address() + ": invalid argument: "));
    CHECK_THAT(v.error().message, Catch::Contains("audience"));
  }
}

TEST_CASE("a failed call carries the gRPC code and names the operation and address (WAPI-5)",
          "[client]") {
  TempDir dir;
  FakeServer server(dir.path());
  server.api.failAll = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no identity issued");
  auto client = connect(server);
  auto x509 = client->fetchX509Context();
  REQUIRE_FALSE(x509);
  CHECK(x509.error().code == Code::PermissionDenied);
  CHECK(x509.error().message == "fetching X.509-SVIDs from " + server.address() +
                                    ": permission denied: no identity issued");
  auto jwt = client->fetchJwtSvids({"a"});
  REQUIRE_FALSE(jwt);
  CHECK(jwt.error().code == Code::PermissionDenied);
  CHECK(jwt.error().message ==
        "fetching JWT-SVIDs from " + server.address() + ": permission denied: no identity issued");
  server.api.failAll = grpc::Status(grpc::StatusCode::UNAVAILABLE, "starting\nup");
  auto bundles = client->fetchJwtBundles();
  REQUIRE_FALSE(bundles);
  CHECK(bundles.error().code == Code::Unavailable);
  CHECK(bundles.error().message ==
        "fetching JWT bundles from " + server.address() + ": unavailable: starting?up");
}

TEST_CASE("no server on the socket is Unavailable; a silent server hits the deadline", "[client]") {
  TempDir dir;
  SECTION("no socket") {
    auto client = Client::create("unix://" + dir.file("missing.sock"));
    REQUIRE(client);
    auto x509 = (*client)->fetchX509Context();
    REQUIRE_FALSE(x509);
    CHECK(x509.error().code == Code::Unavailable);
    CHECK_THAT(x509.error().message,
               Catch::StartsWith("fetching X.509-SVIDs from unix://" + dir.file("missing.sock")));
  }
  SECTION("silent") {
    FakeServer server(dir.path());
    server.api.x509Handler = [](int, grpc::ServerContext* ctx,
                                grpc::ServerWriter<X509SVIDResponse>*) {
      return testing::holdOpen(ctx);
    };
    auto start = std::chrono::steady_clock::now();
    auto x509 = connect(server, {.timeout = std::chrono::milliseconds(200)})->fetchX509Context();
    REQUIRE_FALSE(x509);
    CHECK(x509.error().code == Code::DeadlineExceeded);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  }
}

TEST_CASE("a bad address or options fail at creation", "[client]") {
  auto c = Client::create("tcp://localhost:1");
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Code::InvalidArgument);
  auto d = Client::create("unix:///x.sock", {.timeout = std::chrono::milliseconds(0)});
  REQUIRE_FALSE(d);
}

TEST_CASE("the health check is ok only when SERVING", "[client][health]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto client = connect(server);
  CHECK(client->checkHealth());
  server.health.status = grpc::health::v1::HealthCheckResponse::NOT_SERVING;
  auto h = client->checkHealth();
  REQUIRE_FALSE(h);
  CHECK(h.error().code == Code::Unavailable);
  CHECK(h.error().message == "checking the health of " + server.address() + ": status NOT_SERVING");
}

}  // namespace
}  // namespace lanyard::workload_api
