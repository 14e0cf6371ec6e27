// SPDX-License-Identifier: Apache-2.0
// Tests for workload_api/jwt_validation_cache.cpp: a remembered verification still answers
// to expiry (JWT-7), audience (JWT-11) and the bundle it was verified against.
#include "workload_api/jwt_validation_cache.h"

#include <catch2/catch.hpp>

#include "support/temp_dir.h"
#include "svid/authority.h"

namespace lanyard::workload_api {
namespace {

const SysTime kStart = fromUnixSeconds(1'800'000'000);

struct Fixture {
  lanyard::testing::TempDir dir;
  FakeClock clock{kStart};
  std::unique_ptr<svid::Authority> authority{*svid::Authority::create(
      {.trustDomain = *svid::TrustDomain::parse("example.org"), .dataDir = dir.file("ca")}, clock)};
  svid::SpiffeId id = *svid::SpiffeId::parse("spiffe://example.org/w");

  svid::BundleMap bundles() const {
    auto b = authority->current()->bundle;
    return {{b->trustDomain(), b}};
  }
  std::string token(std::vector<std::string> aud, Seconds ttl = Seconds(300)) const {
    return *svid::mintJwtSvid(*authority->current()->jwt, id, aud, clock.now(), ttl);
  }
};

TEST_CASE("a remembered token still needs the asked audience and an unexpired exp",
          "[workload_api][jwt]") {
  Fixture f;
  JwtValidationCache cache;
  const std::string t = f.token({"a", "b"});
  REQUIRE(cache.validate(t, f.bundles(), "a", f.clock.now()));
  CHECK(cache.size() == 1);
  CHECK(cache.validate(t, f.bundles(), "b", f.clock.now())->subject == f.id);
  auto wrong = cache.validate(t, f.bundles(), "c", f.clock.now());
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message ==
        "validating JWT-SVID: audience \"c\" is not in the token's \"aud\"");
  f.clock.advance(Seconds(300 + 60));  // exp plus the leeway: still valid at the boundary
  CHECK(cache.validate(t, f.bundles(), "a", f.clock.now()));
  f.clock.advance(Seconds(1));
  auto expired = cache.validate(t, f.bundles(), "a", f.clock.now());
  REQUIRE_FALSE(expired);
  CHECK(expired.error().code == Code::InvalidArgument);
}

TEST_CASE("a token is verified again once the bundle changes", "[workload_api][jwt]") {
  Fixture f;
  JwtValidationCache cache;
  const std::string t = f.token({"a"});
  auto before = f.bundles();
  REQUIRE(cache.validate(t, before, "a", f.clock.now()));
  // A bundle without the signing key (another domain's authority, same trust domain name).
  lanyard::testing::TempDir other;
  auto foreign = svid::Authority::create(
      {.trustDomain = *svid::TrustDomain::parse("example.org"), .dataDir = other.file("ca")},
      f.clock);
  auto fb = (*foreign)->current()->bundle;
  auto refused = cache.validate(t, {{fb->trustDomain(), fb}}, "a", f.clock.now());
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Code::InvalidArgument);
}

TEST_CASE("failed validations are not remembered", "[workload_api][jwt]") {
  Fixture f;
  JwtValidationCache cache;
  std::string t = f.token({"a"});
  t.back() = t.back() == 'A' ? 'B' : 'A';  // a broken signature
  CHECK_FALSE(cache.validate(t, f.bundles(), "a", f.clock.now()));
  CHECK(cache.size() == 0);
}

}  // namespace
}  // namespace lanyard::workload_api
