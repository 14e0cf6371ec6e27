// SPDX-License-Identifier: Apache-2.0
// Tests for svid/authority_store.cpp: bad state on disk fails closed with a clear error.
#include "svid/authority_store.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/file_io.h"
#include "support/temp_dir.h"
#include "svid/authority.h"
#include "test_ca.h"

namespace lanyard::svid {
namespace {

const SysTime kStart = fromUnixSeconds(1'800'000'000);

Result<std::unique_ptr<Authority>> start(const std::string& dir, const Clock& clock,
                                         const std::string& tdName = "example.org") {
  return Authority::create(AuthorityConfig{.trustDomain = testing::td(tdName), .dataDir = dir},
                           clock);
}

std::string errorOf(const std::string& dir, const Clock& clock) {
  auto a = start(dir, clock);
  REQUIRE_FALSE(a);
  return a.error().message;
}

TEST_CASE("bad CA state on disk is reported, never replaced by a new root",
          "[svid][authority_store]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  REQUIRE(start(dir.path(), clock));

  SECTION("a missing manifest next to CA keys") {
    std::filesystem::remove(dir.file("authority.json"));
    CHECK_THAT(errorOf(dir.path(), clock),
               Catch::Contains("authority.json") && Catch::Contains("refusing"));
  }
  SECTION("a missing key file") {
    std::filesystem::remove(dir.file("ca-1.key"));
    CHECK_THAT(errorOf(dir.path(), clock), Catch::Contains("ca-1.key"));
  }
  SECTION("a missing certificate file") {
    std::filesystem::remove(dir.file("ca-1.pem"));
    CHECK_THAT(errorOf(dir.path(), clock), Catch::Contains("ca-1.pem"));
  }
  SECTION("a corrupted manifest") {
    REQUIRE(fileio::writeAtomic(dir.file("authority.json"), "{\"version\": 1, \"slo", 0600));
    CHECK_THAT(errorOf(dir.path(), clock),
               Catch::Contains("authority.json") && Catch::Contains("not valid JSON"));
  }
  SECTION("a manifest with a wrong field type") {
    REQUIRE(fileio::writeAtomic(dir.file("authority.json"),
                                R"({"version":1,"trust_domain":"example.org","upstream":)"
                                R"("self_signed","sequence":"x","next_slot":2,"slots":[]})",
                                0600));
    CHECK_THAT(errorOf(dir.path(), clock), Catch::Contains("authority.json"));
  }
  SECTION("a truncated key file") {
    std::string key = *fileio::read(dir.file("ca-1.key"));
    REQUIRE(fileio::writeAtomic(dir.file("ca-1.key"), key.substr(0, key.size() / 2), 0600));
    CHECK_THAT(errorOf(dir.path(), clock),
               Catch::Contains("ca-1.key") && Catch::Contains("not a valid private key"));
  }
  SECTION("a corrupted certificate file") {
    REQUIRE(fileio::writeAtomic(dir.file("ca-1.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n", 0644));
    CHECK_THAT(errorOf(dir.path(), clock), Catch::Contains("ca-1.pem"));
  }
  SECTION("a key file readable by others") {
    REQUIRE(::chmod(dir.file("jwt-1.key").c_str(), 0644) == 0);
    CHECK_THAT(errorOf(dir.path(), clock), Catch::Contains("jwt-1.key") && Catch::Contains("0644"));
  }
  SECTION("a CA key that does not match its certificate") {
    auto other = *generateKey(KeyType::EcP256);
    REQUIRE(fileio::writeAtomic(dir.file("ca-1.key"), *privateKeyToPem(other.get()), 0600));
    CHECK_THAT(errorOf(dir.path(), clock),
               Catch::Contains("ca-1.key") && Catch::Contains("does not match"));
  }
  SECTION("a JWT key that does not match its recorded kid") {
    auto other = *generateKey(KeyType::EcP256);
    REQUIRE(fileio::writeAtomic(dir.file("jwt-1.key"), *privateKeyToPem(other.get()), 0600));
    CHECK_THAT(errorOf(dir.path(), clock), Catch::Contains("jwt-1.key"));
  }
  SECTION("state from another trust domain") {
    auto a = start(dir.path(), clock, "other.org");
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("belongs to trust domain example.org"));
  }
  // Whatever failed, no new root was created in its place.
  CHECK_FALSE(fileio::exists(dir.file("ca-2.pem")));
  CHECK_FALSE(fileio::exists(dir.file("ca-2.key")));
}

}  // namespace
}  // namespace lanyard::svid

namespace lanyard::svid {
namespace {

TEST_CASE("a manifest naming two active CAs is refused", "[svid][authority_store]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  REQUIRE(start(dir.path(), clock));
  clock.advance(Seconds(13 * 3600));
  REQUIRE(start(dir.path(), clock));  // prepares slot 2
  std::string m = *fileio::read(dir.file("authority.json"));
  auto pos = m.find("\"prepared\"");
  REQUIRE(pos != std::string::npos);
  m.replace(pos, 10, "\"active\"");
  REQUIRE(fileio::writeAtomic(dir.file("authority.json"), m, 0600));
  CHECK_THAT(errorOf(dir.path(), clock), Catch::Contains("more than one active"));
}

}  // namespace
}  // namespace lanyard::svid
