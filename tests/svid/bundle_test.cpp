// SPDX-License-Identifier: Apache-2.0
// Tests for svid/bundle.cpp: SPIFFE bundle, JWT bundle, DER and PEM encodings (BUNDLE-1 … 10).
#include "svid/bundle.h"

#include <cstdint>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/x509v3.h>

#include "svid/encoding.h"
#include "svid/jwk.h"

namespace lanyard::svid {
namespace {

using nlohmann::json;

TrustDomain td(const char* name) { return TrustDomain::parse(name).value(); }

ossl::UniquePtr<EVP_PKEY> ecKey(const char* curve) {
  return ossl::UniquePtr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

EVP_PKEY* sharedRsa() {
  static ossl::UniquePtr<EVP_PKEY> key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  return key.get();
}

/// A self-signed CA certificate for `key`, made with plain EVP/X509 calls.
ossl::UniquePtr<X509> selfSigned(EVP_PKEY* key, const char* cn) {
  static long serial = 1;
  ossl::UniquePtr<X509> cert(X509_new());
  REQUIRE(cert);
  REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++) == 1);
  REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) != nullptr);
  REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600) != nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(cn), -1, -1, 0) == 1);
  REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  REQUIRE(X509_set_pubkey(cert.get(), key) == 1);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  ossl::UniquePtr<X509_EXTENSION> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  REQUIRE(ext);
  REQUIRE(X509_add_ext(cert.get(), ext.get(), -1) == 1);
  REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);
  return cert;
}

std::string der(const X509* cert) { return certificateToDer(cert).value(); }

/// The x509-svid JWK of a certificate, as a SPIFFE bundle carries it.
json x509Entry(X509* cert) {
  json jwk = publicKeyToJwk(X509_get0_pubkey(cert)).value();
  jwk["use"] = "x509-svid";
  jwk["x5c"] = json::array({base64Encode(der(cert))});
  return jwk;
}

json jwtEntry(const EVP_PKEY* key, const std::string& kid) {
  json jwk = publicKeyToJwk(key).value();
  jwk["use"] = "jwt-svid";
  jwk["kid"] = kid;
  return jwk;
}

/// Test keys and certificates shared by the cases.
struct Material {
  ossl::UniquePtr<EVP_PKEY> caKey = ecKey("P-256");
  ossl::UniquePtr<X509> ca = selfSigned(caKey.get(), "ca one");
  ossl::UniquePtr<X509> rsaCa = selfSigned(sharedRsa(), "ca rsa");
  ossl::UniquePtr<EVP_PKEY> jwtKey = ecKey("P-256");
  ossl::UniquePtr<EVP_PKEY> jwtKey384 = ecKey("P-384");
};

Result<Bundle> parseDoc(const json& doc) {
  return Bundle::parseSpiffeJson(td("example.org"), doc.dump());
}

Error spiffeError(const json& doc) {
  auto b = parseDoc(doc);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == Code::InvalidArgument);
  CHECK_THAT(b.error().message, Catch::StartsWith("parsing SPIFFE bundle for example.org: "));
  return b.error();
}

TEST_CASE("a SPIFFE bundle round-trips x509-svid and jwt-svid keys (BUNDLE-1 … BUNDLE-7)",
          "[svid][bundle]") {
  Material m;
  Bundle b(td("example.org"));
  REQUIRE(b.addX509Authority(m.ca.get()));
  REQUIRE(b.addX509Authority(m.rsaCa.get()));
  REQUIRE(b.addJwtAuthority("kid-ec", m.jwtKey.get()));
  REQUIRE(b.addJwtAuthority("kid-384", m.jwtKey384.get()));
  REQUIRE(b.addJwtAuthority("kid-rsa", sharedRsa()));
  b.setSequence(42);
  b.setRefreshHintSeconds(300);

  auto text = b.toSpiffeJson();
  REQUIRE(text);
  json doc = json::parse(*text);
  CHECK(doc.at("spiffe_sequence") == 42);
  CHECK(doc.at("spiffe_refresh_hint") == 300);
  REQUIRE(doc.at("keys").size() == 5);
  int x509 = 0;
  int jwt = 0;
  for (const json& k : doc.at("keys")) {
    if (k.at("use") == "x509-svid") {
      ++x509;
      CHECK(k.find("kid") == k.end());  // BUNDLE-5: no kid
      REQUIRE(k.at("x5c").size() == 1);
      auto raw = base64Decode(k.at("x5c")[0].get<std::string>());  // standard, padded
      REQUIRE(raw);
      auto certs = parseDerCertificates(*raw);
      REQUIRE(certs);
      REQUIRE(certs->size() == 1);
      auto key = publicKeyFromJwk(k);  // BUNDLE-5: key members describe the certificate
      REQUIRE(key);
      CHECK(EVP_PKEY_eq(key->get(), X509_get0_pubkey(certs->front().get())) == 1);
    } else {
      ++jwt;
      CHECK(k.at("use") == "jwt-svid");
      CHECK_FALSE(k.at("kid").get<std::string>().empty());
      CHECK(k.find("x5c") == k.end());
    }
  }
  CHECK(x509 == 2);
  CHECK(jwt == 3);

  auto back = Bundle::parseSpiffeJson(td("example.org"), *text);
  REQUIRE(back);
  CHECK(back->sameContent(b));
  CHECK(back->trustDomain() == td("example.org"));
  CHECK(back->sequence() == 42u);
  CHECK(back->refreshHintSeconds() == 300);
  CHECK(EVP_PKEY_eq(back->findJwtAuthority("kid-rsa"), sharedRsa()) == 1);
  CHECK(back->findJwtAuthority("nope") == nullptr);
}

TEST_CASE("a bundle without sequence or refresh hint omits them", "[svid][bundle]") {
  Bundle b(td("example.org"));
  json doc = json::parse(b.toSpiffeJson().value());
  CHECK(doc == json{{"keys", json::array()}});
  auto back = parseDoc(doc);
  REQUIRE(back);
  CHECK_FALSE(back->sequence());
  CHECK_FALSE(back->refreshHintSeconds());
  CHECK(back->sameContent(b));
}

TEST_CASE("keys must be present; an empty keys array means no authorities (BUNDLE-1)",
          "[svid][bundle]") {
  SECTION("missing") {
    CHECK_THAT(spiffeError(json::object()).message, Catch::Contains("\"keys\""));
  }
  SECTION("null") { spiffeError(json{{"keys", nullptr}}); }
  SECTION("an object") { spiffeError(json{{"keys", json::object()}}); }
  SECTION("a string") { spiffeError(json{{"keys", "[]"}}); }
  SECTION("empty array") {
    auto b = parseDoc(json{{"keys", json::array()}});
    REQUIRE(b);
    CHECK(b->x509Authorities().empty());
    CHECK(b->jwtAuthorities().empty());
  }
}

TEST_CASE("spiffe_sequence is an unsigned 64-bit integer (BUNDLE-2)", "[svid][bundle]") {
  auto withSeq = [](const std::string& value) {
    return Bundle::parseSpiffeJson(td("example.org"),
                                   R"({"keys":[],"spiffe_sequence":)" + value + "}");
  };
  CHECK(withSeq("0")->sequence() == 0u);
  CHECK(withSeq("18446744073709551615")->sequence() == 18446744073709551615u);
  CHECK_FALSE(withSeq("null")->sequence());
  for (const char* bad : {"-1", "1.5", "1e3", "\"1\"", "18446744073709551616", "true", "[1]"}) {
    INFO(bad);
    auto b = withSeq(bad);
    REQUIRE_FALSE(b);
    CHECK(b.error().code == Code::InvalidArgument);
    CHECK_THAT(b.error().message, Catch::Contains("spiffe_sequence"));
  }
}

TEST_CASE("spiffe_refresh_hint is a 64-bit integer of seconds (BUNDLE-3)", "[svid][bundle]") {
  auto withHint = [](const std::string& value) {
    return Bundle::parseSpiffeJson(td("example.org"),
                                   R"({"keys":[],"spiffe_refresh_hint":)" + value + "}");
  };
  CHECK(withHint("300")->refreshHintSeconds() == 300);
  CHECK(withHint("9223372036854775807")->refreshHintSeconds() == INT64_MAX);
  for (const char* bad : {"-1", "1.5", "\"300\"", "9223372036854775808", "{}", "false"}) {
    INFO(bad);
    auto b = withHint(bad);
    REQUIRE_FALSE(b);
    CHECK_THAT(b.error().message, Catch::Contains("spiffe_refresh_hint"));
  }
}

TEST_CASE("entries with a missing or unknown use are skipped but must be valid (BUNDLE-4)",
          "[svid][bundle]") {
  Material m;
  json skipped = publicKeyToJwk(m.jwtKey.get()).value();
  skipped["kid"] = "k";
  SECTION("missing use") {
    auto b = parseDoc(json{{"keys", json::array({skipped})}});
    REQUIRE(b);
    CHECK(b->jwtAuthorities().empty());
  }
  SECTION("wit-svid and differently cased uses are skipped") {
    for (const char* use : {"wit-svid", "JWT-SVID", "X509-SVID", "sig", ""}) {
      INFO(use);
      skipped["use"] = use;
      auto b = parseDoc(json{{"keys", json::array({skipped, jwtEntry(m.jwtKey.get(), "j")})}});
      REQUIRE(b);
      CHECK(b->jwtAuthorities().size() == 1);
      CHECK(b->x509Authorities().empty());
    }
  }
  SECTION("use that is not a string fails the set") {
    skipped["use"] = 1;
    CHECK_THAT(spiffeError(json{{"keys", json::array({skipped})}}).message,
               Catch::Contains("\"use\""));
  }
  SECTION("a skipped entry with a broken key still fails the set") {
    skipped["use"] = "wit-svid";
    skipped["x"] = "AAAA";
    spiffeError(json{{"keys", json::array({skipped})}});
  }
  SECTION("an entry that is not an object fails the set") {
    spiffeError(json{{"keys", json::array({"x509-svid"})}});
  }
}

TEST_CASE("an x509-svid entry needs exactly one x5c certificate (BUNDLE-5)", "[svid][bundle]") {
  Material m;
  json entry = x509Entry(m.ca.get());
  SECTION("one is accepted") {
    auto b = parseDoc(json{{"keys", json::array({entry})}});
    REQUIRE(b);
    REQUIRE(b->x509Authorities().size() == 1);
    CHECK(der(b->x509Authorities()[0].get()) == der(m.ca.get()));
  }
  SECTION("missing") {
    entry.erase("x5c");
    CHECK_THAT(spiffeError(json{{"keys", json::array({entry})}}).message,
               Catch::Contains("exactly one"));
  }
  SECTION("empty") {
    entry["x5c"] = json::array();
    spiffeError(json{{"keys", json::array({entry})}});
  }
  SECTION("two") {
    entry["x5c"].push_back(base64Encode(der(m.rsaCa.get())));
    CHECK_THAT(spiffeError(json{{"keys", json::array({entry})}}).message, Catch::Contains("got 2"));
  }
  SECTION("not an array") {
    entry["x5c"] = entry["x5c"][0];
    spiffeError(json{{"keys", json::array({entry})}});
  }
  SECTION("an entry that is not a string") {
    entry["x5c"] = json::array({5});
    spiffeError(json{{"keys", json::array({entry})}});
  }
  SECTION("anything but padded standard base64") {
    std::string text = base64Encode(der(m.ca.get()));
    for (const std::string& bad : {base64UrlEncode(der(m.ca.get())), text + "=", " " + text}) {
      if (bad == text) {
        continue;  // this DER happens to encode the same in both alphabets
      }
      entry["x5c"] = json::array({bad});
      CHECK_THAT(spiffeError(json{{"keys", json::array({entry})}}).message,
                 Catch::Contains("base64"));
    }
  }
  SECTION("not DER") {
    entry["x5c"] = json::array({base64Encode("not a certificate")});
    spiffeError(json{{"keys", json::array({entry})}});
  }
  SECTION("DER with trailing bytes") {
    entry["x5c"] = json::array({base64Encode(der(m.ca.get()) + "x")});
    spiffeError(json{{"keys", json::array({entry})}});
  }
}

TEST_CASE("an x509-svid entry's key members must match its certificate (BUNDLE-5)",
          "[svid][bundle]") {
  Material m;
  json entry = x509Entry(m.ca.get());
  json other = publicKeyToJwk(m.jwtKey.get()).value();
  entry["x"] = other["x"];
  entry["y"] = other["y"];
  CHECK_THAT(spiffeError(json{{"keys", json::array({entry})}}).message,
             Catch::Contains("does not match"));
  SECTION("also on a jwt-svid entry that carries x5c") {
    json jwt = jwtEntry(m.jwtKey.get(), "k");
    jwt["x5c"] = json::array({base64Encode(der(m.ca.get()))});
    spiffeError(json{{"keys", json::array({jwt})}});
  }
}

TEST_CASE("x5t and x5t#S256, when sent, must match the certificate (BUNDLE-7)", "[svid][bundle]") {
  Material m;
  json entry = x509Entry(m.ca.get());
  std::string certDer = der(m.ca.get());
  auto digest = [&](const EVP_MD* md) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    REQUIRE(EVP_Digest(certDer.data(), certDer.size(), out, &len, md, nullptr) == 1);
    return std::string(reinterpret_cast<char*>(out), len);
  };
  entry["x5t"] = base64UrlEncode(digest(EVP_sha1()));
  entry["x5t#S256"] = base64UrlEncode(digest(EVP_sha256()));
  REQUIRE(parseDoc(json{{"keys", json::array({entry})}}));
  SECTION("wrong SHA-1 thumbprint") {
    entry["x5t"] = base64UrlEncode(std::string(20, 'a'));
    spiffeError(json{{"keys", json::array({entry})}});
  }
  SECTION("wrong SHA-256 thumbprint") {
    entry["x5t#S256"] = base64UrlEncode(std::string(32, 'a'));
    spiffeError(json{{"keys", json::array({entry})}});
  }
  SECTION("thumbprint of the wrong length") {
    entry["x5t"] = base64UrlEncode(digest(EVP_sha256()));
    spiffeError(json{{"keys", json::array({entry})}});
  }
}

TEST_CASE("a jwt-svid entry needs a non-empty kid, unique in the bundle (BUNDLE-6)",
          "[svid][bundle]") {
  Material m;
  json entry = jwtEntry(m.jwtKey.get(), "k1");
  SECTION("missing kid") {
    entry.erase("kid");
    CHECK_THAT(spiffeError(json{{"keys", json::array({entry})}}).message,
               Catch::Contains("empty key ID"));
  }
  SECTION("empty kid") {
    entry["kid"] = "";
    spiffeError(json{{"keys", json::array({entry})}});
  }
  SECTION("kid that is not a string") {
    entry["kid"] = 5;
    CHECK_THAT(spiffeError(json{{"keys", json::array({entry})}}).message,
               Catch::Contains("\"kid\""));
  }
  SECTION("duplicate kid") {
    json second = jwtEntry(m.jwtKey384.get(), "k1");
    CHECK_THAT(spiffeError(json{{"keys", json::array({entry, second})}}).message,
               Catch::Contains("key 1"));
  }
  SECTION("distinct kids") {
    json second = jwtEntry(m.jwtKey384.get(), "k2");
    auto b = parseDoc(json{{"keys", json::array({entry, second})}});
    REQUIRE(b);
    CHECK(b->jwtAuthorities().size() == 2);
  }
}

TEST_CASE("an unknown or missing kty fails the whole bundle (BUNDLE-7)", "[svid][bundle]") {
  Material m;
  json good = jwtEntry(m.jwtKey.get(), "k1");
  SECTION("OKP") {
    json okp{{"kty", "OKP"},
             {"crv", "Ed25519"},
             {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
             {"use", "jwt-svid"},
             {"kid", "k2"}};
    spiffeError(json{{"keys", json::array({good, okp})}});
  }
  SECTION("missing") {
    json noKty = good;
    noKty.erase("kty");
    noKty["kid"] = "k2";
    spiffeError(json{{"keys", json::array({good, noKty})}});
  }
}

TEST_CASE("malformed SPIFFE bundle JSON is rejected without throwing (BUNDLE-1)",
          "[svid][bundle]") {
  std::string deep(10000, '[');
  for (const std::string& text :
       {std::string(), std::string("{"), std::string("[]"), std::string("null"),
        std::string("\"keys\""), std::string("{\"keys\":[]}x"), std::string("{\"keys\":[],}"),
        std::string("{\"keys\":[\"\xff\"]}"), std::string("{\"keys\":[]\0}", 12),
        "{\"keys\":" + deep, "{\"keys\":[],\"x\":" + deep + std::string(10000, ']') + "}",
        std::string("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":1e999}]}")}) {
    INFO(text.substr(0, 40));
    auto b = Bundle::parseSpiffeJson(td("example.org"), text);
    REQUIRE_FALSE(b);
    CHECK(b.error().code == Code::InvalidArgument);
  }
}

TEST_CASE("the Workload API JWT bundle has only JWT keys with kid and no use (BUNDLE-10)",
          "[svid][bundle]") {
  Material m;
  Bundle b(td("example.org"));
  REQUIRE(b.addX509Authority(m.ca.get()));
  REQUIRE(b.addJwtAuthority("kid-ec", m.jwtKey.get()));
  REQUIRE(b.addJwtAuthority("kid-rsa", sharedRsa()));
  b.setSequence(7);
  b.setRefreshHintSeconds(60);
  auto text = b.jwtBundleJson();
  REQUIRE(text);
  json doc = json::parse(*text);
  CHECK(doc.size() == 1);
  REQUIRE(doc.at("keys").size() == 2);
  for (const json& k : doc.at("keys")) {
    CHECK(k.contains("kty"));
    CHECK(k.contains("kid"));
    CHECK_FALSE(k.contains("use"));
    CHECK_FALSE(k.contains("x5c"));
  }
  auto back = Bundle::parseJwtBundleJson(td("example.org"), *text);
  REQUIRE(back);
  CHECK(back->x509Authorities().empty());
  REQUIRE(back->jwtAuthorities().size() == 2);
  CHECK(EVP_PKEY_eq(back->findJwtAuthority("kid-ec"), m.jwtKey.get()) == 1);
  CHECK(EVP_PKEY_eq(back->findJwtAuthority("kid-rsa"), sharedRsa()) == 1);
}

TEST_CASE("a Workload API JWT bundle needs a kid on every key and ignores use (BUNDLE-10)",
          "[svid][bundle]") {
  Material m;
  const TrustDomain domain = td("example.org");
  SECTION("no keys member is an empty bundle, as in go-spiffe") {
    auto b = Bundle::parseJwtBundleJson(domain, "{}");
    REQUIRE(b);
    CHECK(b->jwtAuthorities().empty());
  }
  SECTION("a key without kid") {
    json k = publicKeyToJwk(m.jwtKey.get()).value();
    auto b = Bundle::parseJwtBundleJson(domain, json{{"keys", json::array({k})}}.dump());
    REQUIRE_FALSE(b);
    CHECK(b.error().code == Code::InvalidArgument);
    CHECK_THAT(b.error().message, Catch::StartsWith("parsing JWT bundle for example.org"));
  }
  SECTION("use is ignored") {
    json k = jwtEntry(m.jwtKey.get(), "k");
    k["use"] = "x509-svid";
    auto b = Bundle::parseJwtBundleJson(domain, json{{"keys", json::array({k})}}.dump());
    REQUIRE(b);
    CHECK(b->findJwtAuthority("k") != nullptr);
  }
  SECTION("duplicate kids") {
    json k = jwtEntry(m.jwtKey.get(), "k");
    CHECK_FALSE(Bundle::parseJwtBundleJson(domain, json{{"keys", json::array({k, k})}}.dump()));
  }
  SECTION("malformed") {
    CHECK_FALSE(Bundle::parseJwtBundleJson(domain, "{\"keys\":5}"));
    CHECK_FALSE(Bundle::parseJwtBundleJson(domain, "[]"));
    CHECK_FALSE(Bundle::parseJwtBundleJson(domain, "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\"}]}"));
  }
}

TEST_CASE("the X.509 bundle is the DER certificates back to back (BUNDLE-10)", "[svid][bundle]") {
  Material m;
  Bundle b(td("example.org"));
  REQUIRE(b.addX509Authority(m.ca.get()));
  REQUIRE(b.addX509Authority(m.rsaCa.get()));
  REQUIRE(b.addX509Authority(m.ca.get()));  // the same DER again is ignored
  REQUIRE(b.x509Authorities().size() == 2);
  std::string raw = b.x509Der();
  CHECK(raw == der(m.ca.get()) + der(m.rsaCa.get()));
  auto back = Bundle::parseX509Der(td("example.org"), raw);
  REQUIRE(back);
  CHECK(back->sameContent(b));

  SECTION("empty bytes mean no authorities") {
    auto empty = Bundle::parseX509Der(td("example.org"), "");
    REQUIRE(empty);
    CHECK(empty->x509Authorities().empty());
  }
  SECTION("trailing bytes") {
    auto bad = Bundle::parseX509Der(td("example.org"), raw + "\x30");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Code::InvalidArgument);
    CHECK_THAT(bad.error().message, Catch::Contains("certificate 3"));
  }
  SECTION("truncated") {
    CHECK_FALSE(Bundle::parseX509Der(td("example.org"), raw.substr(0, raw.size() - 1)));
  }
  SECTION("PEM is not DER") { CHECK_FALSE(Bundle::parseX509Der(td("example.org"), b.x509Pem())); }
}

TEST_CASE("PEM bundles encode and parse certificates", "[svid][bundle]") {
  Material m;
  Bundle b(td("example.org"));
  REQUIRE(b.addX509Authority(m.ca.get()));
  REQUIRE(b.addX509Authority(m.rsaCa.get()));
  std::string pem = b.x509Pem();
  CHECK_THAT(pem, Catch::StartsWith("-----BEGIN CERTIFICATE-----\n"));
  auto back = Bundle::parseX509Pem(td("example.org"), pem);
  REQUIRE(back);
  CHECK(back->sameContent(b));

  SECTION("text around the blocks is allowed") {
    CHECK(Bundle::parseX509Pem(td("example.org"), "# CA\n" + pem + "\n"));
  }
  SECTION("no certificate") {
    auto none = Bundle::parseX509Pem(td("example.org"), "");
    REQUIRE_FALSE(none);
    CHECK_THAT(none.error().message, Catch::Contains("no certificate in PEM"));
    CHECK_FALSE(Bundle::parseX509Pem(td("example.org"), "hello"));
  }
  SECTION("a damaged block") {
    std::string broken = pem;
    broken.replace(broken.find('\n') + 5, 4, "!!!!");
    auto bad = Bundle::parseX509Pem(td("example.org"), broken);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Code::InvalidArgument);
  }
  SECTION("certificate helpers round-trip") {
    auto certs = parsePemCertificates(certificateToPem(m.ca.get()).value());
    REQUIRE(certs);
    REQUIRE(certs->size() == 1);
    CHECK(der(certs->front().get()) == der(m.ca.get()));
    auto fromDer = parseDerCertificates(der(m.ca.get()));
    REQUIRE(fromDer);
    CHECK(fromDer->size() == 1);
  }
}

TEST_CASE("adding authorities checks kids and ignores duplicate certificates (BUNDLE-6)",
          "[svid][bundle]") {
  Material m;
  Bundle b(td("example.org"));
  auto empty = b.addJwtAuthority("", m.jwtKey.get());
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == Code::InvalidArgument);
  REQUIRE(b.addJwtAuthority("k", m.jwtKey.get()));
  auto dup = b.addJwtAuthority("k", m.jwtKey384.get());
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == Code::AlreadyExists);
  CHECK(EVP_PKEY_eq(b.findJwtAuthority("k"), m.jwtKey.get()) == 1);
  CHECK_FALSE(b.addJwtAuthority("n", nullptr));
  CHECK_FALSE(b.addX509Authority(nullptr));
  REQUIRE(b.addX509Authority(m.ca.get()));
  REQUIRE(b.addX509Authority(m.ca.get()));
  CHECK(b.x509Authorities().size() == 1);
}

TEST_CASE("sameContent compares domain, authorities, sequence and refresh hint (BUNDLE-8)",
          "[svid][bundle]") {
  Material m;
  auto make = [&](const char* domain) {
    Bundle b(td(domain));
    REQUIRE(b.addX509Authority(m.ca.get()));
    REQUIRE(b.addJwtAuthority("k", m.jwtKey.get()));
    b.setSequence(1);
    return b;
  };
  Bundle a = make("example.org");
  CHECK(a.sameContent(make("example.org")));
  CHECK_FALSE(a.sameContent(make("other.org")));
  Bundle seq = make("example.org");
  seq.setSequence(2);
  CHECK_FALSE(a.sameContent(seq));
  Bundle hint = make("example.org");
  hint.setRefreshHintSeconds(5);
  CHECK_FALSE(a.sameContent(hint));
  Bundle otherKey(td("example.org"));
  REQUIRE(otherKey.addX509Authority(m.ca.get()));
  REQUIRE(otherKey.addJwtAuthority("k", m.jwtKey384.get()));
  otherKey.setSequence(1);
  CHECK_FALSE(a.sameContent(otherKey));
  Bundle otherCa(td("example.org"));
  REQUIRE(otherCa.addX509Authority(m.rsaCa.get()));
  REQUIRE(otherCa.addJwtAuthority("k", m.jwtKey.get()));
  otherCa.setSequence(1);
  CHECK_FALSE(a.sameContent(otherCa));
}

TEST_CASE("a bundle keeps the trust domain it was parsed for (BUNDLE-8)", "[svid][bundle]") {
  Material m;
  Bundle b(td("example.org"));
  REQUIRE(b.addJwtAuthority("k", m.jwtKey.get()));
  auto other = Bundle::parseSpiffeJson(td("other.org"), b.toSpiffeJson().value());
  REQUIRE(other);
  CHECK(other->trustDomain().name() == "other.org");
  CHECK_FALSE(other->sameContent(b));
}

TEST_CASE("only the public half of a JWT key reaches a bundle encoding", "[svid][bundle]") {
  Material m;
  Bundle b(td("example.org"));
  REQUIRE(b.addJwtAuthority("k", m.jwtKey.get()));
  json doc = json::parse(b.toSpiffeJson().value());
  CHECK_FALSE(doc["keys"][0].contains("d"));
  json jwt = json::parse(b.jwtBundleJson().value());
  CHECK_FALSE(jwt["keys"][0].contains("d"));
}

}  // namespace
}  // namespace lanyard::svid
