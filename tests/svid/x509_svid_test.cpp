// SPDX-License-Identifier: Apache-2.0
// Tests for svid/x509_svid.cpp: leaf profile (X509-1 … X509-13), parsing and verification.
#include "svid/x509_svid.h"

#include <catch2/catch.hpp>

#include "svid/ca_certificate.h"
#include "svid/x509_fields.h"
#include "test_ca.h"

namespace lanyard::svid {
namespace {

using testing::chainLength;
using testing::leafOf;
using testing::makeTestCa;
using testing::sid;
using testing::td;

const SysTime kNow = fromUnixSeconds(1'800'000'000);

X509_EXTENSION* findExt(X509* cert, int nid) {
  int idx = X509_get_ext_by_NID(cert, nid, -1);
  return idx < 0 ? nullptr : X509_get_ext(cert, idx);
}

TEST_CASE("a minted leaf carries exactly one URI SAN with its SPIFFE ID (X509-1)", "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid =
      ca.issuer->mint(sid("spiffe://example.org/billing/api"), {{"billing.internal"}}, kNow);
  REQUIRE(svid);
  auto id = spiffeIdFromCertificate(leafOf(*svid).get());
  REQUIRE(id);
  CHECK(id->str() == "spiffe://example.org/billing/api");
  ossl::UniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leafOf(*svid).get(), NID_subject_alt_name, nullptr, nullptr)));
  int uris = 0;
  int dns = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    int type = sk_GENERAL_NAME_value(names.get(), i)->type;
    uris += type == GEN_URI;
    dns += type == GEN_DNS;
  }
  CHECK(uris == 1);
  CHECK(dns == 1);
}

TEST_CASE("minting a leaf for a root ID is rejected (X509-2)", "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://example.org"), {}, kNow);
  REQUIRE_FALSE(svid);
  CHECK(svid.error().code == Code::InvalidArgument);
  CHECK_THAT(svid.error().message, Catch::Contains("X509-2"));
}

TEST_CASE("minting for another trust domain is rejected", "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://other.org/a"), {}, kNow);
  REQUIRE_FALSE(svid);
  CHECK(svid.error().code == Code::InvalidArgument);
}

TEST_CASE("a leaf has a non-empty subject and a non-critical SAN (X509-3)", "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(svid);
  CHECK(X509_NAME_entry_count(X509_get_subject_name(leafOf(*svid).get())) > 0);
  CHECK(X509_EXTENSION_get_critical(findExt(leafOf(*svid).get(), NID_subject_alt_name)) == 0);
}

TEST_CASE(
    "leaf key usage is critical with digitalSignature and without cert/CRL signing "
    "(X509-4)",
    "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(svid);
  auto leafCert = leafOf(*svid);
  X509* leaf = leafCert.get();
  REQUIRE(findExt(leaf, NID_key_usage) != nullptr);
  CHECK(X509_EXTENSION_get_critical(findExt(leaf, NID_key_usage)) == 1);
  uint32_t ku = X509_get_key_usage(leaf);
  CHECK((ku & X509v3_KU_DIGITAL_SIGNATURE) != 0);
  CHECK((ku & X509v3_KU_KEY_ENCIPHERMENT) != 0);
  CHECK((ku & X509v3_KU_KEY_AGREEMENT) != 0);
  CHECK((ku & X509v3_KU_KEY_CERT_SIGN) == 0);
  CHECK((ku & X509v3_KU_CRL_SIGN) == 0);
  uint32_t xku = X509_get_extended_key_usage(leaf);
  CHECK((xku & XKU_SSL_SERVER) != 0);
  CHECK((xku & XKU_SSL_CLIENT) != 0);
}

TEST_CASE(
    "CA certificates are critical cA=TRUE with keyCertSign and digitalSignature "
    "(X509-4, X509-5, ID-8)",
    "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  X509* c = ca.cert.get();
  CHECK(X509_EXTENSION_get_critical(findExt(c, NID_basic_constraints)) == 1);
  CHECK((X509_get_extension_flags(c) & EXFLAG_CA) != 0);
  CHECK(X509_EXTENSION_get_critical(findExt(c, NID_key_usage)) == 1);
  uint32_t ku = X509_get_key_usage(c);
  CHECK((ku & X509v3_KU_KEY_CERT_SIGN) != 0);
  CHECK((ku & X509v3_KU_DIGITAL_SIGNATURE) != 0);
  auto id = spiffeIdFromCertificate(c);
  REQUIRE(id);
  CHECK(id->str() == "spiffe://example.org");
}

TEST_CASE("a leaf is critical cA=FALSE without a path length (X509-5)", "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(svid);
  auto leafCert = leafOf(*svid);
  X509* leaf = leafCert.get();
  REQUIRE(findExt(leaf, NID_basic_constraints) != nullptr);
  CHECK(X509_EXTENSION_get_critical(findExt(leaf, NID_basic_constraints)) == 1);
  CHECK((X509_get_extension_flags(leaf) & EXFLAG_CA) == 0);
  CHECK(X509_get_pathlen(leaf) == -1);
}

TEST_CASE(
    "serials are positive, random and at most 20 octets; SKI/AKI are not critical "
    "(X509-11)",
    "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto a = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  auto b = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(a);
  REQUIRE(b);
  auto leafCert = leafOf(*a);
  auto otherCert = leafOf(*b);
  X509* leaf = leafCert.get();
  const ASN1_INTEGER* sa = X509_get0_serialNumber(leaf);
  const ASN1_INTEGER* sb = X509_get0_serialNumber(otherCert.get());
  CHECK(ASN1_STRING_type(sa) == V_ASN1_INTEGER);  // not V_ASN1_NEG_INTEGER
  CHECK(ASN1_STRING_length(sa) <= 20);
  CHECK(ASN1_INTEGER_cmp(sa, sb) != 0);
  CHECK(X509_EXTENSION_get_critical(findExt(leaf, NID_subject_key_identifier)) == 0);
  CHECK(X509_EXTENSION_get_critical(findExt(leaf, NID_authority_key_identifier)) == 0);
}

TEST_CASE("the leaf's issuer DN and AKI match the CA's subject and SKI (X509-12)", "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(svid);
  auto leafCert = leafOf(*svid);
  X509* leaf = leafCert.get();
  CHECK(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(ca.cert.get())) == 0);
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(leaf);
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca.cert.get());
  REQUIRE(aki != nullptr);
  REQUIRE(ski != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(aki, ski) == 0);
  CHECK(X509_check_issued(ca.cert.get(), leaf) == X509_V_OK);
}

TEST_CASE("notBefore is back-dated 10 s and notAfter never passes the CA's (X509-12)",
          "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow, Seconds(1800));
  SECTION("within the CA's life the ttl is honoured") {
    auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {{}, Seconds(600)}, kNow);
    REQUIRE(svid);
    CHECK(x509fields::notBefore(leafOf(*svid).get()) == kNow - Seconds(10));
    CHECK(x509fields::notAfter(leafOf(*svid).get()) == kNow + Seconds(600));
  }
  SECTION("a ttl past the CA's expiry is capped at the CA's notAfter") {
    auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {{}, Seconds(3600)}, kNow);
    REQUIRE(svid);
    CHECK(x509fields::notAfter(leafOf(*svid).get()) == kNow + Seconds(1800));
    CHECK(svid->notAfter == ca.issuer->caNotAfter());
  }
  SECTION("an expired CA mints nothing") {
    auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow + Seconds(1801));
    REQUIRE_FALSE(svid);
    CHECK(svid.error().code == Code::FailedPrecondition);
  }
}

TEST_CASE("a self-signed CA stays out of the chain; an intermediate is included (X509-13)",
          "[svid][x509]") {
  auto root = makeTestCa("example.org", kNow);
  auto svid = root.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(svid);
  CHECK(chainLength(*svid) == 1);

  auto interKey = *generateKey(KeyType::EcP256);
  CaCertParams p{td("example.org"), kNow - Seconds(10), kNow + Seconds(7200), "inter", -1};
  auto inter = makeCaCertificate(p, interKey.get(), root.cert.get(), root.key.get());
  REQUIRE(inter);
  auto issuer = X509SvidIssuer::create(std::move(*inter), std::move(interKey), {});
  REQUIRE(issuer);
  auto leaf = (*issuer)->mint(sid("spiffe://example.org/b"), {}, kNow);
  REQUIRE(leaf);
  REQUIRE(chainLength(*leaf) == 2);
  auto certs = leaf->certificates();
  REQUIRE(certs);
  CHECK((X509_get_extension_flags((*certs)[1].get()) & EXFLAG_CA) != 0);
  auto id = verifyX509Svid(leaf->chainDer(), root.bundles, kNow);
  REQUIRE(id);
  CHECK(id->str() == "spiffe://example.org/b");
}

TEST_CASE("the issuer refuses a key that does not match its CA", "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto other = *generateKey(KeyType::EcP256);
  auto issuer = X509SvidIssuer::create(ossl::upRef(ca.cert.get()), std::move(other), {});
  REQUIRE_FALSE(issuer);
  CHECK(issuer.error().code == Code::FailedPrecondition);
}

TEST_CASE("leaves can carry P-384 and RSA keys and CAs can be P-384 or RSA", "[svid][x509]") {
  for (auto caType : {KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048}) {
    auto ca = makeTestCa("example.org", kNow, Seconds(86400), caType);
    for (auto leafType : {KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048}) {
      auto svid = ca.issuer->mint(sid("spiffe://example.org/k"), {{}, Seconds(60), leafType}, kNow);
      REQUIRE(svid);
      CHECK(*keyTypeOf(svid->key.get()) == leafType);
      CHECK(verifyX509Svid(svid->chainDer(), ca.bundles, kNow));
    }
  }
}

TEST_CASE("parseX509Svid accepts what we mint and round-trips the DER (X509-10, WAPI-10)",
          "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(svid);
  std::string chain = svid->chainDer();
  std::string key = *privateKeyToDer(svid->key.get());
  auto parsed = parseX509Svid(chain, key);
  REQUIRE(parsed);
  CHECK(parsed->id.str() == "spiffe://example.org/a");
  CHECK(parsed->chainDer() == chain);
  CHECK(svid->keyDer.str() == key);  // the key served with the SVID is its PKCS#8 DER
}

TEST_CASE("parseX509Svid rejects bad chains and keys (X509-10)", "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(svid);
  std::string chain = svid->chainDer();
  std::string key = *privateKeyToDer(svid->key.get());
  SECTION("empty chain") { CHECK_FALSE(parseX509Svid("", key)); }
  SECTION("trailing garbage after the DER") { CHECK_FALSE(parseX509Svid(chain + "x", key)); }
  SECTION("truncated chain") { CHECK_FALSE(parseX509Svid(chain.substr(0, chain.size() - 5), key)); }
  SECTION("PEM instead of DER") { CHECK_FALSE(parseX509Svid(*svid->chainPem(), key)); }
  SECTION("a key that is not PKCS#8 DER") { CHECK_FALSE(parseX509Svid(chain, "not a key")); }
  SECTION("a key that does not match the leaf") {
    auto other = *generateKey(KeyType::EcP256);
    auto r = parseX509Svid(chain, *privateKeyToDer(other.get()));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("does not match"));
  }
  SECTION("a CA certificate as the leaf") {
    std::string caDer = *certificateToDer(ca.cert.get());
    auto r = parseX509Svid(caDer, *privateKeyToDer(ca.key.get()));
    REQUIRE_FALSE(r);
  }
  SECTION("a leaf followed by a non-CA certificate") {
    auto other = ca.issuer->mint(sid("spiffe://example.org/b"), {}, kNow);
    auto r = parseX509Svid(chain + other->chainDer(), key);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("X509-10"));
  }
}

TEST_CASE("verification uses only the leaf's trust-domain bundle (X509-8, X509-9)",
          "[svid][x509]") {
  auto ca = makeTestCa("example.org", kNow);
  auto foreign = makeTestCa("other.org", kNow);
  auto svid = ca.issuer->mint(sid("spiffe://example.org/a"), {}, kNow);
  REQUIRE(svid);
  SECTION("the right bundle verifies") {
    auto id = verifyX509Svid(svid->chainDer(), ca.bundles, kNow);
    REQUIRE(id);
    CHECK(id->str() == "spiffe://example.org/a");
  }
  SECTION("no bundle for the domain is PermissionDenied") {
    auto r = verifyX509Svid(svid->chainDer(), foreign.bundles, kNow);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::PermissionDenied);
  }
  SECTION("another domain's CA filed under this domain does not verify") {
    BundleMap wrong;
    wrong[td("example.org")] = foreign.bundles.begin()->second;
    CHECK_FALSE(verifyX509Svid(svid->chainDer(), wrong, kNow));
  }
  SECTION("an expired leaf does not verify") {
    CHECK_FALSE(verifyX509Svid(svid->chainDer(), ca.bundles, kNow + Seconds(7200)));
  }
  SECTION("an empty chain does not verify") {
    CHECK_FALSE(verifyX509Svid(std::vector<X509*>{}, ca.bundles, kNow));
    CHECK_FALSE(verifyX509Svid(std::string_view(), ca.bundles, kNow));
  }
  SECTION("a CA presented as a leaf does not verify") {
    CHECK_FALSE(verifyX509Svid({ca.cert.get()}, ca.bundles, kNow));
  }
}

}  // namespace
}  // namespace lanyard::svid

namespace lanyard::svid {
namespace {

TEST_CASE("validity past 2049 is encoded as GeneralizedTime and read back exactly",
          "[svid][x509]") {
  SysTime late = fromUnixSeconds(2524607000);  // 2049-12-31 23:43:20 UTC
  auto ca = testing::makeTestCa("example.org", late, Seconds(7 * 86400));
  auto svid = ca.issuer->mint(testing::sid("spiffe://example.org/a"), {{}, Seconds(3600)}, late);
  REQUIRE(svid);
  auto leaf = testing::leafOf(*svid);
  CHECK(ASN1_STRING_type(X509_get0_notAfter(leaf.get())) == V_ASN1_GENERALIZEDTIME);
  CHECK(ASN1_STRING_type(X509_get0_notBefore(leaf.get())) == V_ASN1_UTCTIME);
  CHECK(x509fields::notAfter(leaf.get()) == late + Seconds(3600));
  CHECK(verifyX509Svid(svid->chainDer(), ca.bundles, late + Seconds(60)));
}

TEST_CASE("DNS names that are not host names are rejected", "[svid][x509]") {
  auto ca = testing::makeTestCa("example.org", kNow);
  for (const char* bad : {"", "a b", "ünicode.example", "x/y"}) {
    auto svid = ca.issuer->mint(testing::sid("spiffe://example.org/a"), {{bad}}, kNow);
    REQUIRE_FALSE(svid);
    CHECK(svid.error().code == Code::InvalidArgument);
  }
  CHECK(ca.issuer->mint(testing::sid("spiffe://example.org/a"), {{"*.svc.internal", "a-b.c_d"}},
                        kNow));
}

}  // namespace
}  // namespace lanyard::svid
