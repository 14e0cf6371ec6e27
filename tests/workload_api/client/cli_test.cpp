// SPDX-License-Identifier: Apache-2.0
// Tests for the `lanyard` CLI (cli/): the built binary run against an in-process fake Workload
// API, checked through its exit codes, text and JSON output, and the files it writes.
// `api watch` is in cli_watch_test.cpp.
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "fake_workload_api.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "svid/jwt_svid.h"

namespace lanyard::testing {
namespace {

TEST_CASE("--help works for every command", "[cli]") {
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"api"},
      {"api", "fetch"},
      {"api", "fetch", "x509"},
      {"api", "fetch", "jwt"},
      {"api", "fetch", "bundle"},
      {"api", "validate"},
      {"api", "validate", "jwt"},
      {"api", "watch"},
      {"healthcheck"},
      {"config"},
      {"config", "check"},
  };
  for (auto args : commands) {
    args.push_back("--help");
    auto r = cli(args);
    INFO(oneLine(r.output));
    CHECK(r.exitCode == 0);
    CHECK_THAT(r.output, Catch::Contains("Usage:"));
  }
  auto x509 = cli({"api", "fetch", "x509", "--help"});
  CHECK_THAT(x509.output, Catch::Contains("--socket") && Catch::Contains("--timeout") &&
                              Catch::Contains("--output") && Catch::Contains("--write"));
}

TEST_CASE("usage errors and bad addresses exit 1 with a clear message", "[cli]") {
  TempDir dir;
  struct Row {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Row> rows = {
      {{}, "lanyard: parsing the command line: A subcommand is required"},
      {{"api", "fetch", "jwt"}, "lanyard: parsing the command line: --audience is required"},
      {{"api", "fetch", "x509", "--output", "yaml"}, "lanyard: parsing the command line: "},
      {{"api", "fetch", "x509", "--socket", "tcp://localhost:8081"},
       "lanyard: parsing workload endpoint address \"tcp://localhost:8081\": the host of a tcp "
       "address must be an IP literal"},
      {{"api", "fetch", "x509", "--socket", "run/agent.sock"},
       "lanyard: parsing workload endpoint address \"run/agent.sock\": not a URI"},
      {{"api", "fetch", "x509", "--socket", dir.file("none.sock")},
       "lanyard: fetching X.509-SVIDs from " + dir.file("none.sock") + ": unavailable: "},
      {{"healthcheck", "--socket", "unix://" + dir.file("none.sock")},
       "lanyard: checking the health of unix://" + dir.file("none.sock") + ": unavailable: "},
      {{"api", "fetch", "x509", "--timeout", "soon"}, "lanyard: parsing --timeout \"soon\": "},
      {{"api", "fetch", "jwt", "--audience", "a", "--spiffe-id", "nope"},
       "lanyard: parsing SPIFFE ID"},
  };
  for (const auto& row : rows) {
    auto r = cli(row.args);
    INFO(oneLine(r.output));
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.output, Catch::StartsWith(row.message));
  }
}

TEST_CASE("fetch x509 prints each SVID and the bundles, as text and as JSON", "[cli][x509]") {
  TempDir dir;
  FakeServer server(dir.path());
  SECTION("text") {
    auto r = cli({"api", "fetch", "x509", "--socket", server.socketPath()});
    INFO(oneLine(r.output));
    REQUIRE(r.exitCode == 0);
    CHECK(r.output ==
          "SVID 0 (default)\n"
          "  SPIFFE ID:    spiffe://example.org/web\n"
          "  Hint:         internal\n"
          "  Not after:    " +
              rfc3339(server.ids.web.notAfter) +
              "\n"
              "  Chain length: 1\n"
              "SVID 1\n"
              "  SPIFFE ID:    spiffe://example.org/db\n"
              "  Hint:         external\n"
              "  Not after:    " +
              rfc3339(server.ids.db.notAfter) +
              "\n"
              "  Chain length: 1\n"
              "Bundles: example.org (1 CA), other.org (1 CA)\n");
  }
  SECTION("json, with the address from SPIFFE_ENDPOINT_SOCKET (EP-3)") {
    auto r = run({"env", "SPIFFE_ENDPOINT_SOCKET=" + server.address(), lanyard(), "api", "fetch",
                  "x509", "--output", "json"});
    REQUIRE(r.exitCode == 0);
    json doc = parseJson(r);
    CHECK(doc == json{{"svids",
                       {{{"spiffe_id", "spiffe://example.org/web"},
                         {"hint", "internal"},
                         {"not_after", rfc3339(server.ids.web.notAfter)},
                         {"chain_length", 1}},
                        {{"spiffe_id", "spiffe://example.org/db"},
                         {"hint", "external"},
                         {"not_after", rfc3339(server.ids.db.notAfter)},
                         {"chain_length", 1}}}},
                      {"bundles", {{"example.org", 1}, {"other.org", 1}}}});
  }
  CHECK(server.api.callsWithoutHeader == 0);  // WAPI-4
}

TEST_CASE("fetch x509 --write writes the chain, a 0600 key and the bundle, which verify",
          "[cli][x509]") {
  TempDir dir;
  FakeServer server(dir.path());
  std::string out = dir.file("certs");
  auto r = cli({"api", "fetch", "x509", "--socket", server.address(), "--write", out});
  INFO(oneLine(r.output));
  REQUIRE(r.exitCode == 0);
  CHECK_THAT(r.output, Catch::Contains("Wrote 6 files to " + out));
  for (const char* n : {"0", "1"}) {
    std::string svid = out + "/svid." + n + ".pem";
    std::string key = out + "/svid." + n + ".key";
    std::string bundle = out + "/bundle." + n + ".pem";
    struct stat st {};
    REQUIRE(::stat(key.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_THAT(readFile(key), Catch::StartsWith("-----BEGIN PRIVATE KEY-----"));  // PKCS#8
    auto verify = run({"openssl", "verify", "-CAfile", bundle, svid});
    INFO(oneLine(verify.output));
    CHECK(verify.exitCode == 0);
    // The key belongs to the certificate.
    auto certKey = run({"openssl", "x509", "-noout", "-pubkey", "-in", svid});
    auto pubKey = run({"openssl", "pkey", "-pubout", "-in", key});
    CHECK(certKey.exitCode == 0);
    CHECK(certKey.output == pubKey.output);
  }
  CHECK(readFile(out + "/bundle.0.pem") == server.ids.ca.bundles.begin()->second->x509Pem());
}

TEST_CASE("fetch jwt prints a token per identity", "[cli][jwt]") {
  TempDir dir;
  FakeServer server(dir.path());
  SECTION("json, two audiences") {
    auto r = cli({"api", "fetch", "jwt", "--socket", server.address(), "--audience", "aud-a",
                  "--audience", "aud-b", "--output", "json"});
    REQUIRE(r.exitCode == 0);
    json doc = parseJson(r);
    REQUIRE(doc["svids"].size() == 2);
    CHECK(doc["svids"][0]["spiffe_id"] == "spiffe://example.org/web");
    CHECK(doc["svids"][0]["hint"] == "");
    auto jwt = svid::parseJwtSvidInsecure(doc["svids"][1]["token"].get<std::string>(), {"aud-b"});
    REQUIRE(jwt);
    CHECK(jwt->subject.str() == "spiffe://example.org/db");
    CHECK(jwt->audience == std::vector<std::string>{"aud-a", "aud-b"});
  }
  SECTION("text, one identity") {
    auto r = cli({"api", "fetch", "jwt", "--socket", server.address(), "--audience", "aud-a",
                  "--spiffe-id", "spiffe://example.org/db"});
    INFO(oneLine(r.output));
    REQUIRE(r.exitCode == 0);
    CHECK_THAT(r.output, Catch::StartsWith("token(spiffe://example.org/db):\n\teyJ"));
    std::lock_guard lock(server.api.mutex);
    CHECK(server.api.lastJwtRequest.spiffe_id() == "spiffe://example.org/db");
  }
}

TEST_CASE("fetch bundle prints the X.509 and JWT bundles by trust domain", "[cli][bundle]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto r = cli({"api", "fetch", "bundle", "--socket", server.address(), "--output", "json"});
  REQUIRE(r.exitCode == 0);
  json doc = parseJson(r);
  CHECK(doc["x509_bundles"]["example.org"] == server.ids.ca.bundles.begin()->second->x509Pem());
  CHECK(doc["x509_bundles"].contains("other.org"));
  CHECK(doc["jwt_bundles"]["example.org"]["keys"][0]["kid"] == "kid-1");
  auto text = cli({"api", "fetch", "bundle", "--socket", server.address()});
  CHECK_THAT(text.output, Catch::Contains("X.509 bundle of example.org:\n-----BEGIN CERTIFICATE") &&
                              Catch::Contains("JWT bundle of example.org:\n{\"keys\""));
}

TEST_CASE("validate jwt prints the subject and claims, or exits 1 with the reason", "[cli][jwt]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto fetched = cli({"api", "fetch", "jwt", "--socket", server.address(), "--audience",
                      "spiffe://example.org/api", "--output", "json"});
  REQUIRE(fetched.exitCode == 0);
  std::string token = parseJson(fetched)["svids"][0]["token"];
  auto ok = cli({"api", "validate", "jwt", "--socket", server.address(), "--audience",
                 "spiffe://example.org/api", token, "--output", "json"});
  REQUIRE(ok.exitCode == 0);
  json doc = parseJson(ok);
  CHECK(doc["spiffe_id"] == "spiffe://example.org/web");
  CHECK(doc["claims"]["sub"] == "spiffe://example.org/web");
  CHECK(doc["claims"]["exp"].is_number_integer());
  auto text = cli({"api", "validate", "jwt", "--socket", server.address(), "--audience",
                   "spiffe://example.org/api", token});
  CHECK_THAT(text.output, Catch::StartsWith("SVID is valid.\nSPIFFE ID: spiffe://example.org/web\n"
                                            "Claims:    {"));
  auto bad = cli({"api", "validate", "jwt", "--socket", server.address(), "--audience",
                  "spiffe://example.org/other", token});
  INFO(oneLine(bad.output));
  CHECK(bad.exitCode == 1);
  CHECK_THAT(bad.output, Catch::StartsWith("lanyard: validating a JWT-SVID with " +
                                           server.address() + ": invalid argument: "));
  CHECK_THAT(bad.output, Catch::Contains("audience"));
  CHECK(bad.output.find(token) == std::string::npos);  // the token is never echoed
}

TEST_CASE("healthcheck exits 0 only when the agent is SERVING", "[cli][health]") {
  TempDir dir;
  FakeServer server(dir.path());
  auto ok = cli({"healthcheck", "--socket", server.address()});
  CHECK(ok.exitCode == 0);
  CHECK(ok.output == server.address() + ": SERVING\n");
  server.health.status = grpc::health::v1::HealthCheckResponse::NOT_SERVING;
  auto down = cli({"healthcheck", "--socket", server.address()});
  CHECK(down.exitCode == 1);
  CHECK(down.output ==
        "lanyard: checking the health of " + server.address() + ": status NOT_SERVING\n");
}

TEST_CASE("config check reports ok with a summary, or the error with file and line",
          "[cli][config]") {
  TempDir dir;
  SECTION("the documented example") {
    std::string path = sourceDir() + "/docs/examples/lanyard.yaml";
    auto r = cli({"config", "check", path});
    INFO(oneLine(r.output));
    CHECK(r.exitCode == 0);
    CHECK_THAT(r.output, Catch::StartsWith(path + ": ok\n  trust domain: example.org\n"
                                                  "  socket:       /run/lanyard/agent.sock\n"
                                                  "  entries:      "));
  }
  SECTION("a small good file") {
    std::string path = dir.file("good.yaml");
    std::ofstream(path) << "trust_domain: example.com\nsocket_path: /tmp/l.sock\nentries:\n"
                           "  - spiffe_id: spiffe://example.com/a\n    selectors: [unix:uid:1]\n";
    auto r = cli({"config", "check", path});
    CHECK(r.exitCode == 0);
    CHECK(r.output == path +
                          ": ok\n  trust domain: example.com\n  socket:       /tmp/l.sock\n"
                          "  entries:      1\n");
  }
  SECTION("a bad key") {
    std::string path = dir.file("bad.yaml");
    std::ofstream(path) << "trust_domain: example.com\nsockt_path: /tmp/l.sock\n";
    auto r = cli({"config", "check", path});
    INFO(oneLine(r.output));
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.output, Catch::StartsWith("lanyard: checking the configuration: " + path + ":2:"));
    CHECK_THAT(r.output, Catch::Contains("sockt_path"));
  }
  SECTION("a missing file") {
    auto r = cli({"config", "check", dir.file("none.yaml")});
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.output, Catch::StartsWith("lanyard: checking the configuration: "));
  }
}

}  // namespace
}  // namespace lanyard::testing
