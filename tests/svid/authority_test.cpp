// SPDX-License-Identifier: Apache-2.0
// Tests for svid/authority.cpp: upstream modes, rotation prepared → active → retired, restart.
#include "svid/authority.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/file_io.h"
#include "support/temp_dir.h"
#include "svid/ca_certificate.h"
#include "svid/x509_fields.h"
#include "test_ca.h"

namespace lanyard::svid {
namespace {

using testing::chainLength;
using testing::leafOf;
using testing::sid;
using testing::td;

const SysTime kStart = fromUnixSeconds(1'800'000'000);
constexpr Seconds kHour{3600};

AuthorityConfig selfSigned(const std::string& dir) {
  AuthorityConfig c{.trustDomain = td("example.org"), .dataDir = dir};
  return c;
}

BundleMap mapOf(const AuthoritySnapshot& s) {
  BundleMap m;
  m[s.bundle->trustDomain()] = s.bundle;
  return m;
}

std::string bundleDer(const Authority& a) { return a.current()->bundle->x509Der(); }

TEST_CASE("a self-signed authority mints SVIDs that verify against its bundle",
          "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  auto a = Authority::create(selfSigned(dir.path()), clock);
  REQUIRE(a);
  auto snap = (*a)->current();
  CHECK(snap->bundle->x509Authorities().size() == 1);
  CHECK(snap->bundle->jwtAuthorities().size() == 1);
  CHECK(snap->bundle->sequence() == uint64_t{1});
  auto svid = snap->x509->mint(sid("spiffe://example.org/w"), {}, clock.now());
  REQUIRE(svid);
  CHECK(chainLength(*svid) == 1);
  CHECK(verifyX509Svid(svid->chainDer(), mapOf(*snap), clock.now()));
  auto jwt =
      mintJwtSvid(*snap->jwt, sid("spiffe://example.org/w"), {"aud"}, clock.now(), Seconds(300));
  REQUIRE(jwt);
  CHECK(validateJwtSvid(*jwt, mapOf(*snap), "aud", clock.now()));
}

TEST_CASE("state files are written atomically with keys at mode 0600", "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  REQUIRE(Authority::create(selfSigned(dir.path()), clock));
  for (const char* f : {"ca-1.key", "jwt-1.key", "authority.json"}) {
    struct stat st {};
    REQUIRE(::stat(dir.file(f).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
  }
}

TEST_CASE("a restart reloads the same chain and bundle", "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  std::string der;
  std::string jwks;
  {
    auto a = Authority::create(selfSigned(dir.path()), clock);
    REQUIRE(a);
    der = bundleDer(**a);
    jwks = *(*a)->current()->bundle->toSpiffeJson();
  }
  clock.advance(kHour);
  auto b = Authority::create(selfSigned(dir.path()), clock);
  REQUIRE(b);
  CHECK(bundleDer(**b) == der);
  CHECK(*(*b)->current()->bundle->toSpiffeJson() == jwks);
}

TEST_CASE("rotation prepares, activates and retires CAs with the bundle overlapping",
          "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  auto cfg = selfSigned(dir.path());
  cfg.caTtl = Seconds(6 * 3600);  // prepare at 3 h, activate at 5 h, expire at 6 h
  auto created = Authority::create(cfg, clock);
  REQUIRE(created);
  Authority& a = **created;
  X509* first = a.current()->x509->caCertificate();
  auto firstDer = *certificateToDer(first);
  auto oldLeaf = a.current()->x509->mint(sid("spiffe://example.org/w"), {{}, kHour}, clock.now());
  REQUIRE(oldLeaf);

  clock.advance(Seconds(3 * 3600));  // half of the first CA's life
  REQUIRE(a.rotate());
  CHECK(a.current()->bundle->x509Authorities().size() == 2);
  CHECK(a.current()->bundle->jwtAuthorities().size() == 2);
  CHECK(a.current()->bundle->sequence() == uint64_t{2});
  // Prepared: published, not signing yet.
  CHECK(*certificateToDer(a.current()->x509->caCertificate()) == firstDer);

  clock.advance(Seconds(2 * 3600));  // past 5/6 of the first CA's life
  auto changed = a.rotate();
  REQUIRE(changed);
  CHECK(*changed);
  CHECK(*certificateToDer(a.current()->x509->caCertificate()) != firstDer);
  CHECK(a.current()->bundle->x509Authorities().size() == 2);  // retired CA still published
  CHECK(a.current()->bundle->sequence() == uint64_t{2});      // same content, same sequence
  // An SVID from the retired CA still verifies against the current bundle.
  CHECK(verifyX509Svid(oldLeaf->chainDer(), mapOf(*a.current()), kStart + Seconds(1800)));

  clock.advance(Seconds(3600));  // the first CA has expired (and the second is half-way)
  REQUIRE(a.rotate());
  bool firstPublished = false;
  for (const auto& c : a.current()->bundle->x509Authorities()) {
    firstPublished |= *certificateToDer(c.get()) == firstDer;
  }
  CHECK_FALSE(firstPublished);
  CHECK(a.current()->bundle->sequence() == uint64_t{3});
  CHECK(a.nextRotation() > clock.now());
}

TEST_CASE("an SVID minted late in a CA's life never outlives it", "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  auto cfg = selfSigned(dir.path());
  cfg.caTtl = Seconds(2 * 3600);
  auto a = Authority::create(cfg, clock);
  REQUIRE(a);
  clock.advance(Seconds(5400));
  REQUIRE((*a)->rotate());
  auto snap = (*a)->current();
  auto svid = snap->x509->mint(sid("spiffe://example.org/w"), {{}, kHour}, clock.now());
  REQUIRE(svid);
  CHECK(svid->notAfter <= snap->activeNotAfter);
}

TEST_CASE("rotate() with nothing due changes nothing", "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  auto a = Authority::create(selfSigned(dir.path()), clock);
  REQUIRE(a);
  auto before = (*a)->current();
  auto changed = (*a)->rotate();
  REQUIRE(changed);
  CHECK_FALSE(*changed);
  CHECK((*a)->current() == before);
}

TEST_CASE("a daemon restarted after every CA expired starts a new generation",
          "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  REQUIRE(Authority::create(selfSigned(dir.path()), clock));
  clock.advance(Seconds(48 * 3600));
  auto b = Authority::create(selfSigned(dir.path()), clock);
  REQUIRE(b);
  CHECK((*b)->current()->bundle->x509Authorities().size() == 1);
  CHECK((*b)->current()->bundle->sequence() == uint64_t{2});
  CHECK(!fileio::exists(dir.file("ca-1.key")));
}

struct Upstream {
  testing::TempDir dir;
  ossl::UniquePtr<X509> root;
  ossl::UniquePtr<EVP_PKEY> rootKey;
};

void writeUpstream(Upstream& u, SysTime now, bool withIntermediate) {
  u.rootKey = *generateKey(KeyType::EcP256);
  CaCertParams p{td("corp.example"), now - kHour, now + Seconds(30 * 86400), "corp root", -1};
  u.root = *makeCaCertificate(p, u.rootKey.get(), nullptr, u.rootKey.get());
  if (!withIntermediate) {
    REQUIRE(fileio::writeAtomic(u.dir.file("upstream.pem"), *certificateToPem(u.root.get()), 0644));
    REQUIRE(
        fileio::writeAtomic(u.dir.file("upstream.key"), *privateKeyToPem(u.rootKey.get()), 0600));
    return;
  }
  auto interKey = *generateKey(KeyType::EcP256);
  CaCertParams ip{td("corp.example"), now - kHour, now + Seconds(10 * 86400), "corp inter", -1};
  auto inter = *makeCaCertificate(ip, interKey.get(), u.root.get(), u.rootKey.get());
  REQUIRE(fileio::writeAtomic(u.dir.file("upstream.pem"),
                              *certificateToPem(inter.get()) + *certificateToPem(u.root.get()),
                              0644));
  REQUIRE(fileio::writeAtomic(u.dir.file("upstream.key"), *privateKeyToPem(interKey.get()), 0600));
}

AuthorityConfig diskConfig(const Upstream& u, const std::string& dataDir) {
  AuthorityConfig c{.trustDomain = td("example.org"),
                    .dataDir = dataDir,
                    .upstream = UpstreamMode::Disk,
                    .upstreamCertFile = u.dir.file("upstream.pem"),
                    .upstreamKeyFile = u.dir.file("upstream.key")};
  return c;
}

TEST_CASE("disk upstream: the daemon's intermediate chains to the operator's root",
          "[svid][authority]") {
  FakeClock clock(kStart);
  for (bool withIntermediate : {false, true}) {
    Upstream u;
    writeUpstream(u, kStart, withIntermediate);
    testing::TempDir data;
    auto a = Authority::create(diskConfig(u, data.path()), clock);
    REQUIRE(a);
    auto snap = (*a)->current();
    REQUIRE(snap->bundle->x509Authorities().size() == 1);
    CHECK(X509_cmp(snap->bundle->x509Authorities()[0].get(), u.root.get()) == 0);
    auto svid = snap->x509->mint(sid("spiffe://example.org/w"), {}, clock.now());
    REQUIRE(svid);
    CHECK(chainLength(*svid) == (withIntermediate ? 3u : 2u));
    CHECK(verifyX509Svid(svid->chainDer(), mapOf(*snap), clock.now()));
    // Intermediates rotate, the bundle's X.509 part does not.
    std::string der = snap->bundle->x509Der();
    clock.advance(Seconds(20 * 3600));
    REQUIRE((*a)->rotate());
    CHECK((*a)->current()->bundle->x509Der() == der);
    clock.set(kStart);
  }
}

TEST_CASE("disk upstream errors name the file and the problem", "[svid][authority]") {
  FakeClock clock(kStart);
  Upstream u;
  writeUpstream(u, kStart, false);
  testing::TempDir data;
  SECTION("missing key file") {
    auto c = diskConfig(u, data.path());
    c.upstreamKeyFile = u.dir.file("nope.key");
    auto a = Authority::create(c, clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("nope.key"));
  }
  SECTION("group-readable key file") {
    ::chmod(u.dir.file("upstream.key").c_str(), 0640);
    auto a = Authority::create(diskConfig(u, data.path()), clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("upstream.key") && Catch::Contains("0640"));
  }
  SECTION("key that does not match the certificate") {
    auto other = *generateKey(KeyType::EcP256);
    REQUIRE(fileio::writeAtomic(u.dir.file("upstream.key"), *privateKeyToPem(other.get()), 0600));
    auto a = Authority::create(diskConfig(u, data.path()), clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("does not match"));
  }
  SECTION("a non-CA certificate") {
    auto ca = testing::makeTestCa("corp.example", kStart);
    auto leaf = ca.issuer->mint(sid("spiffe://corp.example/x"), {}, kStart);
    REQUIRE(fileio::writeAtomic(u.dir.file("upstream.pem"), *leaf->chainPem(), 0644));
    REQUIRE(
        fileio::writeAtomic(u.dir.file("upstream.key"), *privateKeyToPem(leaf->key.get()), 0600));
    auto a = Authority::create(diskConfig(u, data.path()), clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("not a CA"));
  }
  SECTION("the upstream was replaced under existing state") {
    REQUIRE(Authority::create(diskConfig(u, data.path()), clock));
    Upstream other;
    writeUpstream(other, kStart, false);
    auto a = Authority::create(diskConfig(other, data.path()), clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("not issued by the configured upstream"));
  }
}

}  // namespace
}  // namespace lanyard::svid

namespace lanyard::svid {
namespace {

// An operator's CA made with plain OpenSSL: an SKI that is not SHA-1 of the key (RFC 7093
// style), a notAfter of 9999-12-31 ("no well-defined expiration") and an optional path length.

TEST_CASE("a configuration change of the upstream roots moves the bundle's sequence (BUNDLE-2)",
          "[svid][authority]") {
  FakeClock clock(kStart);
  Upstream u;
  writeUpstream(u, kStart, false);
  testing::TempDir data;
  auto cfg = diskConfig(u, data.path());
  uint64_t first = 0;
  {
    auto a = Authority::create(cfg, clock);
    REQUIRE(a);
    first = *(*a)->current()->bundle->sequence();
  }
  {
    auto same = Authority::create(cfg, clock);  // same roots: same sequence
    REQUIRE(same);
    CHECK((*same)->current()->bundle->sequence() == first);
  }
  auto extra = testing::makeTestCa("corp.example", kStart);
  REQUIRE(fileio::writeAtomic(u.dir.file("roots.pem"), *certificateToPem(extra.cert.get()), 0644));
  cfg.upstreamBundleFile = u.dir.file("roots.pem");
  {
    auto more = Authority::create(cfg, clock);
    REQUIRE(more);
    CHECK((*more)->current()->bundle->x509Authorities().size() == 2);
    CHECK((*more)->current()->bundle->sequence() == first + 1);
  }
  auto again = Authority::create(cfg, clock);
  REQUIRE(again);
  CHECK((*again)->current()->bundle->sequence() == first + 1);
}

// --- In-memory issuing CA (authority.upstream: tpm sets issuingTtl; disk stands in here) ---

AuthorityConfig inMemoryIssuing(const Upstream& u, const std::string& dataDir) {
  AuthorityConfig c = diskConfig(u, dataDir);
  c.issuingTtl = Seconds(2 * 3600);
  return c;
}

std::set<std::string> filesIn(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

std::string issuingDer(const Authority& a) {
  return *certificateToDer(a.current()->x509->caCertificate());
}

TEST_CASE("an in-memory issuing CA signed by the upstream mints SVIDs; only JWT keys are on disk",
          "[svid][authority][issuing]") {
  FakeClock clock(kStart);
  Upstream u;
  writeUpstream(u, kStart, false);
  testing::TempDir data;
  auto a = Authority::create(inMemoryIssuing(u, data.path()), clock);
  REQUIRE(a);
  auto snap = (*a)->current();
  X509* issuing = snap->x509->caCertificate();
  CHECK(X509_check_issued(u.root.get(), issuing) == X509_V_OK);
  CHECK(x509fields::notAfter(issuing) == kStart + Seconds(2 * 3600));
  CHECK(X509_get_pathlen(issuing) == 0);  // signs SVIDs only
  CHECK(snap->activeNotAfter == kStart + Seconds(2 * 3600));
  // The bundle is the upstream root and the JWT key (BUNDLE-4): the issuing CA is not in it.
  REQUIRE(snap->bundle->x509Authorities().size() == 1);
  CHECK(X509_cmp(snap->bundle->x509Authorities()[0].get(), u.root.get()) == 0);
  CHECK(snap->bundle->jwtAuthorities().size() == 1);
  // X509-13: the chain is leaf, issuing CA (the root is left out).
  auto svid = snap->x509->mint(sid("spiffe://example.org/w"), {{}, Seconds(3 * 3600)}, kStart);
  REQUIRE(svid);
  CHECK(chainLength(*svid) == 2u);
  CHECK(verifyX509Svid(svid->chainDer(), mapOf(*snap), clock.now()));
  CHECK(svid->notAfter == kStart + Seconds(2 * 3600));  // never outlives its issuing CA
  // Nothing on disk holds the issuing key.
  CHECK(filesIn(data.path()) == std::set<std::string>{"authority.json", "jwt-1.key"});
  auto manifest = *fileio::read(data.file("authority.json"));
  CHECK_THAT(manifest, Catch::Contains("\"not_after\": " +
                                       std::to_string(unixSeconds(kStart + Seconds(24 * 3600)))));
}

TEST_CASE("the in-memory issuing CA is replaced at half its life; the bundle does not change",
          "[svid][authority][issuing]") {
  FakeClock clock(kStart);
  Upstream u;
  writeUpstream(u, kStart, false);
  testing::TempDir data;
  auto created = Authority::create(inMemoryIssuing(u, data.path()), clock);
  REQUIRE(created);
  Authority& a = **created;
  const std::string first = issuingDer(a);
  const std::string bundle = *a.current()->bundle->toSpiffeJson();
  auto oldLeaf = a.current()->x509->mint(sid("spiffe://example.org/w"), {}, clock.now());
  REQUIRE(oldLeaf);
  CHECK(a.nextRotation() == kStart + Seconds(3600));

  clock.advance(Seconds(3599));
  auto early = a.rotate();
  REQUIRE(early);
  CHECK_FALSE(*early);
  CHECK(issuingDer(a) == first);

  clock.advance(Seconds(1));
  auto changed = a.rotate();
  REQUIRE(changed);
  CHECK(*changed);
  CHECK(issuingDer(a) != first);
  CHECK(x509fields::notAfter(a.current()->x509->caCertificate()) == clock.now() + Seconds(7200));
  CHECK(*a.current()->bundle->toSpiffeJson() == bundle);  // same content, same sequence
  // An SVID of the replaced issuing CA still verifies: both chain to the same root.
  CHECK(verifyX509Svid(oldLeaf->chainDer(), mapOf(*a.current()), clock.now() - Seconds(1)));
  CHECK(a.nextRotation() == clock.now() + Seconds(3600));
  CHECK(filesIn(data.path()) == std::set<std::string>{"authority.json", "jwt-1.key"});
}

TEST_CASE("with an in-memory issuing CA the JWT keys still rotate on ca_ttl and survive restarts",
          "[svid][authority][issuing]") {
  FakeClock clock(kStart);
  Upstream u;
  writeUpstream(u, kStart, false);
  testing::TempDir data;
  auto cfg = inMemoryIssuing(u, data.path());
  std::string firstIssuing;
  std::string bundle;
  {
    auto a = Authority::create(cfg, clock);
    REQUIRE(a);
    firstIssuing = issuingDer(**a);
    bundle = *(*a)->current()->bundle->toSpiffeJson();
  }
  clock.advance(Seconds(600));
  {
    // A restart mints a new issuing CA (its key was never written) and keeps the bundle.
    auto b = Authority::create(cfg, clock);
    REQUIRE(b);
    CHECK(issuingDer(**b) != firstIssuing);
    CHECK(*(*b)->current()->bundle->toSpiffeJson() == bundle);
  }
  clock.set(kStart + Seconds(12 * 3600));  // half of ca_ttl: the next JWT key is published
  auto c = Authority::create(cfg, clock);
  REQUIRE(c);
  CHECK((*c)->current()->bundle->jwtAuthorities().size() == 2);
  CHECK((*c)->current()->bundle->sequence() == uint64_t{2});
  CHECK(filesIn(data.path()) == std::set<std::string>{"authority.json", "jwt-1.key", "jwt-2.key"});
  // The first generation has expired (and the third is published at the second's half-life).
  clock.set(kStart + Seconds(25 * 3600));
  REQUIRE((*c)->rotate());
  CHECK((*c)->current()->bundle->jwtAuthorities().size() == 2);
  CHECK(filesIn(data.path()) == std::set<std::string>{"authority.json", "jwt-2.key", "jwt-3.key"});
}

TEST_CASE("a data directory whose generations hold a persisted X.509 CA is taken over",
          "[svid][authority][issuing]") {
  FakeClock clock(kStart);
  Upstream u;
  writeUpstream(u, kStart, false);
  testing::TempDir data;
  std::string jwks;
  {
    auto a = Authority::create(diskConfig(u, data.path()), clock);  // persists ca-1.*
    REQUIRE(a);
    jwks = *(*a)->current()->bundle->toSpiffeJson();
    REQUIRE(fileio::exists(data.file("ca-1.key")));
  }
  for (int restart = 0; restart < 2; ++restart) {
    auto b = Authority::create(inMemoryIssuing(u, data.path()), clock);
    REQUIRE(b);
    CHECK(*(*b)->current()->bundle->toSpiffeJson() == jwks);
    CHECK(filesIn(data.path()) == std::set<std::string>{"authority.json", "jwt-1.key"});
  }
}

TEST_CASE("in-memory issuing CA errors", "[svid][authority][issuing]") {
  FakeClock clock(kStart);
  Upstream u;
  writeUpstream(u, kStart, false);
  testing::TempDir data;
  const SysTime rootEnd = x509fields::notAfter(u.root.get());

  SECTION("it needs an upstream to sign it") {
    auto cfg = selfSigned(data.path());
    cfg.issuingTtl = Seconds(3600);
    auto a = Authority::create(cfg, clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("needs an upstream CA"));
  }
  SECTION("a lifetime under a minute") {
    auto cfg = inMemoryIssuing(u, data.path());
    cfg.issuingTtl = Seconds(30);
    auto a = Authority::create(cfg, clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("at least 1m"));
  }
  SECTION("an upstream about to expire: capped, then renewal fails and the old CA signs on") {
    clock.set(rootEnd - Seconds(100));
    auto a = Authority::create(inMemoryIssuing(u, data.path()), clock);
    REQUIRE(a);
    CHECK(x509fields::notAfter((*a)->current()->x509->caCertificate()) == rootEnd);
    const std::string before = issuingDer(**a);
    clock.advance(Seconds(50));  // half of what was left: due, but under a minute remains
    auto r = (*a)->rotate();
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("issuing the in-memory X.509 CA") &&
                                      Catch::Contains("upstream CA certificate expires"));
    CHECK(issuingDer(**a) == before);
  }
  SECTION("an upstream that has expired stops startup") {
    clock.set(rootEnd + Seconds(1));
    auto a = Authority::create(inMemoryIssuing(u, data.path()), clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("upstream CA certificate expires"));
  }
  SECTION("a generation with neither a recorded lifetime nor a certificate is refused") {
    REQUIRE(Authority::create(inMemoryIssuing(u, data.path()), clock));
    auto text = *fileio::read(data.file("authority.json"));
    auto m = nlohmann::json::parse(text);
    m["slots"][0].erase("not_before");
    REQUIRE(fileio::writeAtomic(data.file("authority.json"), m.dump(), 0600));
    auto a = Authority::create(inMemoryIssuing(u, data.path()), clock);
    REQUIRE_FALSE(a);
    CHECK_THAT(a.error().message, Catch::Contains("authority.json") &&
                                      Catch::Contains("slot 1 has no not_before/not_after"));
  }
}

void writeForeignUpstream(const testing::TempDir& dir, int pathLen) {
  auto key = *generateKey(KeyType::EcP256);
  ossl::UniquePtr<X509> cert(X509_new());
  REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242) == 1);
  auto name = *x509fields::makeName({{"O", "Corp"}, {"CN", "Corp Root"}});
  REQUIRE(X509_set_subject_name(cert.get(), name.get()) == 1);
  REQUIRE(X509_set_issuer_name(cert.get(), name.get()) == 1);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                        static_cast<time_t>(unixSeconds(kStart) - 3600)) != nullptr);
  REQUIRE(ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "99991231235959Z") == 1);
  REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
  REQUIRE(X509_add_ext(cert.get(), x509fields::basicConstraints(true, pathLen)->get(), -1) == 1);
  REQUIRE(X509_add_ext(cert.get(), x509fields::keyUsage(KU_KEY_CERT_SIGN | KU_CRL_SIGN)->get(),
                       -1) == 1);
  std::string ski(20, '\x5a');  // not SHA-1 of anything
  REQUIRE(X509_add_ext(cert.get(), x509fields::subjectKeyId(ski)->get(), -1) == 1);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  REQUIRE(fileio::writeAtomic(dir.file("up.pem"), *certificateToPem(cert.get()), 0644));
  REQUIRE(fileio::writeAtomic(dir.file("up.key"), *privateKeyToPem(key.get()), 0600));
}

AuthorityConfig foreignDisk(const testing::TempDir& dir) {
  return AuthorityConfig{.trustDomain = td("example.org"),
                         .dataDir = dir.file("data"),
                         .upstream = UpstreamMode::Disk,
                         .upstreamCertFile = dir.file("up.pem"),
                         .upstreamKeyFile = dir.file("up.key")};
}

TEST_CASE(
    "a disk upstream with its own SKI method and a 9999 expiry chains and reloads "
    "(X509-12)",
    "[svid][authority]") {
  testing::TempDir dir;
  writeForeignUpstream(dir, -1);
  FakeClock clock(kStart);
  auto a = Authority::create(foreignDisk(dir), clock);
  REQUIRE(a);
  auto snap = (*a)->current();
  auto svid = snap->x509->mint(sid("spiffe://example.org/w"), {}, clock.now());
  REQUIRE(svid);
  CHECK(verifyX509Svid(svid->chainDer(), mapOf(*snap), clock.now()));
  auto certs = *svid->certificates();
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(certs[1].get());
  REQUIRE(aki != nullptr);
  CHECK(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki)),
                    static_cast<size_t>(ASN1_STRING_length(aki))) == std::string(20, '\x5a'));
  CHECK(Authority::create(foreignDisk(dir), clock));  // restart: the stored CA still matches
}

TEST_CASE("a disk upstream with pathLenConstraint 0 is refused", "[svid][authority]") {
  testing::TempDir dir;
  writeForeignUpstream(dir, 0);
  FakeClock clock(kStart);
  auto a = Authority::create(foreignDisk(dir), clock);
  REQUIRE_FALSE(a);
  CHECK_THAT(a.error().message, Catch::Contains("pathLenConstraint 0"));
}

TEST_CASE("a CA lifetime shorter than three refresh hints is refused (BUNDLE-11)",
          "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  auto cfg = selfSigned(dir.path());
  cfg.caTtl = Seconds(600);
  auto a = Authority::create(cfg, clock);
  REQUIRE_FALSE(a);
  CHECK_THAT(a.error().message, Catch::Contains("refresh hint"));
}

TEST_CASE("slot files left by a crash before their manifest are replaced, not trusted",
          "[svid][authority]") {
  testing::TempDir dir;
  FakeClock clock(kStart);
  auto cfg = selfSigned(dir.path());
  REQUIRE(Authority::create(cfg, clock));
  // As if a previous run wrote slot 2's files and died before committing the manifest.
  auto stray = testing::makeTestCa("example.org", kStart);
  REQUIRE(fileio::writeAtomic(dir.file("ca-2.pem"), *certificateToPem(stray.cert.get()), 0644));
  REQUIRE(fileio::writeAtomic(dir.file("ca-2.key"), *privateKeyToPem(stray.key.get()), 0600));
  REQUIRE(fileio::writeAtomic(dir.file("jwt-2.key"), *privateKeyToPem(stray.key.get()), 0600));
  REQUIRE(fileio::writeAtomic(dir.file("authority.json.tmp.123"), "partial", 0600));
  clock.advance(Seconds(13 * 3600));  // slot 2 gets prepared now
  auto a = Authority::create(cfg, clock);
  REQUIRE(a);
  CHECK((*a)->current()->bundle->x509Authorities().size() == 2);
  CHECK_FALSE(fileio::exists(dir.file("authority.json.tmp.123")));
  // The restart after that loads slot 2 as written by this run.
  auto b = Authority::create(cfg, clock);
  REQUIRE(b);
  CHECK((*b)->current()->bundle->x509Der() == (*a)->current()->bundle->x509Der());
}

}  // namespace
}  // namespace lanyard::svid
