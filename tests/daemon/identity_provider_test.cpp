// SPDX-License-Identifier: Apache-2.0
// Tests for daemon/identity_provider.cpp: entries to identities, the SVID caches, renewal at
// half-life, reload and change notification (DESIGN.md §3–§5).
#include "daemon/identity_provider.h"

#include <catch2/catch.hpp>
#include <openssl/x509.h>

#include "support/temp_dir.h"
#include "svid/bundle.h"
#include "svid/x509_svid.h"

namespace lanyard::daemon {
namespace {

const SysTime kStart = fromUnixSeconds(1'800'000'000);

workload_api::Selectors uid(const std::string& u) { return {{"unix", "uid:" + u}}; }

RegistrationEntry entry(const std::string& id, const std::string& selector,
                        std::optional<Seconds> ttl = std::nullopt) {
  RegistrationEntry e;
  e.spiffeIdTemplate = id;
  e.selectors.push_back(*parseSelector(selector));
  e.x509SvidTtl = ttl;
  return e;
}

class CountingListener final : public workload_api::ChangeListener {
 public:
  void onChange() override { ++changes; }
  std::atomic<int> changes{0};
};

struct Fixture {
  lanyard::testing::TempDir dir;
  FakeClock clock{kStart};
  std::unique_ptr<svid::Authority> authority{*svid::Authority::create(
      {.trustDomain = *svid::TrustDomain::parse("example.org"), .dataDir = dir.file("ca")}, clock)};
  IdentityProvider provider{
      *authority, clock,
      IdentityPolicy{.entries = {entry("spiffe://example.org/a", "unix:uid:1000", Seconds(60)),
                                 entry("spiffe://example.org/b", "unix:uid:1000"),
                                 entry("spiffe://example.org/u/{unix:uid}", "unix:uid")}}};
};

TEST_CASE("matching entries give identities in entry order, templated ones filled in",
          "[daemon][identity]") {
  Fixture f;
  auto view = f.provider.x509View(uid("1000"));
  REQUIRE(view);
  REQUIRE(view->svids.size() == 3);
  CHECK(view->svids[0]->id.str() == "spiffe://example.org/a");  // WAPI-8: first is default
  CHECK(view->svids[1]->id.str() == "spiffe://example.org/b");
  CHECK(view->svids[2]->id.str() == "spiffe://example.org/u/1000");
  CHECK(view->svids[0]->notAfter - view->svids[0]->notBefore == Seconds(70));  // 10 s backdated
  REQUIRE(view->bundle);
  auto verified = svid::verifyX509Svid(
      view->svids[0]->chainDer, {{view->bundle->trustDomain(), view->bundle}}, f.clock.now());
  CHECK(verified);

  auto other = f.provider.x509View(uid("2000"));
  REQUIRE(other);
  REQUIRE(other->svids.size() == 1);
  CHECK(other->svids[0]->id.str() == "spiffe://example.org/u/2000");
}

TEST_CASE("a caller no entry matches has no identity", "[daemon][identity]") {
  Fixture f;
  workload_api::Selectors none{{"unix", "gid:5"}};
  CHECK(f.provider.x509View(none).error().code == Code::PermissionDenied);
  CHECK(f.provider.bundles(none).error().code == Code::PermissionDenied);
  CHECK(f.provider.jwtSvids(none, {"aud"}, std::nullopt).error().code == Code::PermissionDenied);
  // Validation needs no identity: the caller only reads the bundle (WAPI-14).
  CHECK(f.provider.validationBundles(none));
}

TEST_CASE("X.509-SVIDs are cached, renewed at half-life while held, dropped when not",
          "[daemon][identity]") {
  Fixture f;
  auto listener = std::make_shared<CountingListener>();
  f.provider.subscribe(listener);
  auto first = f.provider.x509View(uid("1000"));
  REQUIRE(first);
  auto again = f.provider.x509View(uid("1000"));
  CHECK(again->svids[0] == first->svids[0]);  // the same record, not a new mint
  CHECK(f.provider.cachedX509() == 3);

  f.clock.advance(Seconds(20));  // before half of 60 s (less up to a tenth of jitter)
  CHECK(f.provider.renewDue() == 0);
  CHECK(listener->changes == 0);

  f.clock.advance(Seconds(11));       // past half-life of the 60 s SVID
  CHECK(f.provider.renewDue() == 1);  // held by `first`: renewed; streams are told
  CHECK(listener->changes == 1);
  auto renewed = f.provider.x509View(uid("1000"));
  CHECK(renewed->svids[0] != first->svids[0]);
  CHECK(renewed->svids[0]->notAfter > first->svids[0]->notAfter);

  first.value().svids.clear();
  again.value().svids.clear();
  renewed.value().svids.clear();
  f.clock.advance(Seconds(3600));
  CHECK(f.provider.renewDue() == 0);  // nobody holds them: dropped, minted on demand
  CHECK(f.provider.cachedX509() == 0);
}

TEST_CASE("JWT-SVIDs are cached per identity and audience set until half-life",
          "[daemon][identity]") {
  Fixture f;
  auto one = f.provider.jwtSvids(uid("1000"), {"x", "y"}, std::nullopt);
  REQUIRE(one);
  REQUIRE(one->size() == 3);
  auto same = f.provider.jwtSvids(uid("1000"), {"y", "x"}, std::nullopt);
  CHECK((*same)[0].token == (*one)[0].token);
  auto other = f.provider.jwtSvids(uid("1000"), {"x"}, std::nullopt);
  CHECK((*other)[0].token != (*one)[0].token);

  auto only =
      f.provider.jwtSvids(uid("1000"), {"x"}, *svid::SpiffeId::parse("spiffe://example.org/b"));
  REQUIRE(only->size() == 1);
  CHECK((*only)[0].spiffeId == "spiffe://example.org/b");
  CHECK(f.provider.jwtSvids(uid("1000"), {"x"}, *svid::SpiffeId::parse("spiffe://example.org/z"))
            .error()
            .code == Code::PermissionDenied);

  f.clock.advance(Seconds(151));  // half of the default 5 min
  auto fresh = f.provider.jwtSvids(uid("1000"), {"x", "y"}, std::nullopt);
  CHECK((*fresh)[0].token != (*one)[0].token);
}

TEST_CASE("the node's selectors join every caller's; a change withdraws what needs the old ones",
          "[daemon][identity][tpm]") {
  Fixture f;
  RegistrationEntry measured = entry("spiffe://example.org/measured", "unix:uid:1000");
  measured.selectors.push_back(*parseSelector("tpm:pcr:16:aa"));
  f.provider.setPolicy(
      {.entries = {measured, entry("spiffe://example.org/plain", "unix:uid:1000")}});
  auto listener = std::make_shared<CountingListener>();
  f.provider.subscribe(listener);
  auto ids = [&](const workload_api::Selectors& s) {
    std::vector<std::string> out;
    auto view = f.provider.x509View(s);
    if (!view) {
      return out;  // no identity at all
    }
    for (const auto& r : view->svids) {
      out.push_back(r->id.str());
    }
    return out;
  };
  CHECK(ids(uid("1000")) == std::vector<std::string>{"spiffe://example.org/plain"});

  f.provider.setNodeSelectors({{"tpm", "pcr:16:aa"}, {"tpm", "ek_pubhash:00"}});
  CHECK(listener->changes == 1);
  CHECK(ids(uid("1000")) ==
        std::vector<std::string>{"spiffe://example.org/measured", "spiffe://example.org/plain"});
  // The same set again tells nobody.
  f.provider.setNodeSelectors({{"tpm", "ek_pubhash:00"}, {"tpm", "pcr:16:aa"}});
  CHECK(listener->changes == 1);
  // Another uid on the same node still needs its own unix:uid selector.
  CHECK(ids(uid("1001")).empty());

  f.provider.setNodeSelectors({{"tpm", "pcr:16:bb"}});
  CHECK(listener->changes == 2);
  CHECK(ids(uid("1000")) == std::vector<std::string>{"spiffe://example.org/plain"});
}

TEST_CASE("a new policy changes identities and tells listeners", "[daemon][identity]") {
  Fixture f;
  auto listener = std::make_shared<CountingListener>();
  f.provider.subscribe(listener);
  f.provider.setPolicy({.entries = {entry("spiffe://example.org/new", "unix:uid:1000")}});
  CHECK(listener->changes == 1);
  auto view = f.provider.x509View(uid("1000"));
  REQUIRE(view->svids.size() == 1);
  CHECK(view->svids[0]->id.str() == "spiffe://example.org/new");

  // An expired listener is dropped, not called.
  listener.reset();
  f.provider.authorityChanged();
}

}  // namespace
}  // namespace lanyard::daemon

namespace lanyard::daemon {
namespace {

// Which CA in `bundle` signed `chainDer`'s leaf: its index in x509Authorities(), or -1.
int signerIndex(const std::string& chainDer, const svid::Bundle& bundle) {
  auto certs = svid::parseDerCertificates(chainDer);
  for (size_t i = 0; i < bundle.x509Authorities().size(); ++i) {
    EVP_PKEY* key = X509_get0_pubkey(bundle.x509Authorities()[i].get());
    if (X509_verify((*certs)[0].get(), key) == 1) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

TEST_CASE("a new CA reaches streams in the bundle before any SVID it signs",
          "[daemon][identity][rotation]") {
  Fixture f;
  auto listener = std::make_shared<CountingListener>();
  f.provider.subscribe(listener);
  auto view = f.provider.x509View(uid("1000"));
  REQUIRE(view->bundle->x509Authorities().size() == 1);

  // Half of the CA's life: the next CA is prepared and published, not yet signing.
  f.clock.advance(Seconds(12 * 3600 + 1));
  REQUIRE(*f.authority->rotate());
  f.provider.authorityChanged();
  CHECK(listener->changes == 1);
  f.provider.renewDue();
  auto prepared = f.provider.x509View(uid("1000"));
  REQUIRE(prepared->bundle->x509Authorities().size() == 2);
  for (const auto& s : prepared->svids) {
    CHECK(signerIndex(s->chainDer, *prepared->bundle) == 0);
  }

  // Five sixths: the new CA signs; it has been in every bundle since the step above.
  f.clock.advance(Seconds(8 * 3600));
  REQUIRE(*f.authority->rotate());
  f.provider.authorityChanged();
  f.provider.renewDue();
  auto active = f.provider.x509View(uid("1000"));
  REQUIRE(active->bundle->x509Authorities().size() == 2);
  for (const auto& s : active->svids) {
    CHECK(signerIndex(s->chainDer, *active->bundle) == 1);
    CHECK(s->notAfter <= f.authority->current()->activeNotAfter);  // never outlives its CA
  }
}

}  // namespace
}  // namespace lanyard::daemon
