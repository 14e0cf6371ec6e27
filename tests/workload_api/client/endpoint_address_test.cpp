// SPDX-License-Identifier: Apache-2.0
// Tests for workload_api/client/endpoint_address.cpp: every EP-5 row, the EP-4 syntax and
// SPIFFE_ENDPOINT_SOCKET (EP-3).
#include "workload_api/client/endpoint_address.h"

#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"

namespace lanyard::workload_api {
namespace {

struct Accepted {
  const char* address;
  const char* target;
};

TEST_CASE("the addresses go-spiffe accepts become gRPC targets (EP-4, EP-5)", "[client][ep]") {
  const Accepted rows[] = {
      {"unix:///run/agent.sock", "unix:///run/agent.sock"},
      {"unix:/run/agent.sock", "unix:///run/agent.sock"},
      {"UNIX:///run/agent.sock", "unix:///run/agent.sock"},  // schemes are case-insensitive
      {"unix:///run/a%20b.sock", "unix:///run/a%20b.sock"},  // decoded, then escaped for gRPC
      {"tcp://127.0.0.1:8081", "ipv4:127.0.0.1:8081"},
      {"tcp://[::1]:8081", "ipv6:[::1]:8081"},
      {"/run/agent.sock", "unix:///run/agent.sock"},  // --socket convenience: a bare path
      {"/tmp/a b@c.sock", "unix:///tmp/a%20b%40c.sock"},
  };
  for (const auto& row : rows) {
    INFO(row.address);
    auto e = parseEndpointAddress(row.address);
    REQUIRE(e);
    CHECK(e->target == row.target);
    CHECK(e->address == row.address);
  }
}

struct Rejected {
  const char* address;
  const char* because;  // a fragment of the message
};

TEST_CASE("every address EP-5 rejects fails with InvalidArgument and the reason", "[client][ep]") {
  const Rejected rows[] = {
      {"unix:run/agent.sock", "opaque"},
      {"unix://", "needs a socket path"},
      {"unix:", "needs a socket path"},
      {"unix://user@/run/agent.sock", "no authority"},
      {"unix://host/run/agent.sock", "no authority"},  // SPEC forbids it; gRPC cannot dial it
      {"unix:///run/agent.sock?x=1", "no query"},
      {"unix:///run/agent.sock#frag", "no fragment"},
      {"unix:///run/a%zz.sock", "percent-escape"},
      {"tcp://localhost:8081", "IP literal"},
      {"tcp://127.0.0.1", "needs a port"},
      {"tcp://127.0.0.1:", "needs a port"},
      {"tcp://127.0.0.1:0", "needs a port"},
      {"tcp://127.0.0.1:65536", "needs a port"},
      {"tcp://127.0.0.1:80x", "needs a port"},
      {"tcp://127.0.0.1:8081/", "nothing after the port"},
      {"tcp://127.0.0.1:8081/x", "nothing after the port"},
      {"tcp://127.0.0.1:8081?q=1", "no query"},
      {"tcp://127.0.0.1:8081#f", "no fragment"},
      {"tcp://user@127.0.0.1:8081", "no user info"},
      {"tcp://[::1:8081", "unterminated"},
      {"tcp://::1:8081", "IP literal"},
      {"tcp:127.0.0.1:8081", "tcp://<IP>:<port>"},
      {"http://127.0.0.1:8081", "unsupported scheme"},
      {"npipe:pipe", "unsupported scheme"},
      {"run/agent.sock", "not a URI"},
      {"", "empty"},
      {":::", "not a URI"},
  };
  for (const auto& row : rows) {
    INFO(row.address);
    auto e = parseEndpointAddress(row.address);
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Code::InvalidArgument);
    CHECK_THAT(e.error().message, Catch::StartsWith("parsing workload endpoint address \"" +
                                                    std::string(row.address) + "\": "));
    CHECK_THAT(e.error().message, Catch::Contains(row.because));
  }
}

TEST_CASE("a unix socket path longer than sockaddr_un holds is rejected", "[client][ep]") {
  std::string path = "/" + std::string(106, 'a');
  CHECK(parseEndpointAddress("unix://" + path));
  auto e = parseEndpointAddress("unix://" + path + "b");
  REQUIRE_FALSE(e);
  CHECK_THAT(e.error().message, Catch::Contains("107 bytes"));
}

TEST_CASE("SPIFFE_ENDPOINT_SOCKET locates the endpoint (EP-3)", "[client][ep]") {
  SECTION("set") {
    ::setenv(kEndpointSocketEnv, "unix:///run/spire.sock", 1);
    auto e = endpointFromEnvironment();
    REQUIRE(e);
    CHECK(e->target == "unix:///run/spire.sock");
  }
  SECTION("set to a bad address") {
    ::setenv(kEndpointSocketEnv, "tcp://localhost:1", 1);
    auto e = endpointFromEnvironment();
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Code::InvalidArgument);
  }
  SECTION("unset or empty") {
    ::setenv(kEndpointSocketEnv, "", 1);
    auto e = endpointFromEnvironment();
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Code::NotFound);
    CHECK_THAT(e.error().message, Catch::Contains("SPIFFE_ENDPOINT_SOCKET is not set"));
    ::unsetenv(kEndpointSocketEnv);
    CHECK_FALSE(endpointFromEnvironment());
  }
  ::unsetenv(kEndpointSocketEnv);
}

}  // namespace
}  // namespace lanyard::workload_api
