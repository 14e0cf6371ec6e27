// SPDX-License-Identifier: Apache-2.0
// Independent verification of our JWT-SVIDs and SPIFFE bundles with PyJWT (tools/verify_jwt.py).
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/x509v3.h>

#include "support/run.h"
#include "support/temp_dir.h"
#include "svid/bundle.h"
#include "svid/encoding.h"
#include "svid/jwt_svid.h"

namespace lanyard::svid {
namespace {

using nlohmann::json;

const std::string kAud = "spiffe://example.org/db";
const std::string kSub = "spiffe://example.org/ns/prod/sa/web";

ossl::UniquePtr<EVP_PKEY> makeKey(const char* type, const char* curve) {
  if (std::string(type) == "RSA") {
    return ossl::UniquePtr<EVP_PKEY>(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  }
  return ossl::UniquePtr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

/// A self-signed CA certificate, so the bundle also carries an x509-svid entry.
ossl::UniquePtr<X509> selfSigned(EVP_PKEY* key) {
  ossl::UniquePtr<X509> cert(X509_new());
  REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7) == 1);
  REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) != nullptr);
  REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600) != nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("interop ca"), -1, -1,
                                     0) == 1);
  REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  REQUIRE(X509_set_pubkey(cert.get(), key) == 1);
  REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);
  return cert;
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

/// A temp dir holding one bundle and one token, checked by the Python verifier.
struct Interop {
  testing::TempDir dir;
  ossl::UniquePtr<EVP_PKEY> caKey = makeKey("EC", "P-256");
  ossl::UniquePtr<X509> ca = selfSigned(caKey.get());
  ossl::UniquePtr<X509> extraCa;  // optional second authority, e.g. with an RSA key
  std::string bundleText;

  /// Writes the SPIFFE bundle of example.org with `jwtKey` under `kid` and the CA.
  void writeBundle(const std::string& kid, EVP_PKEY* jwtKey) {
    Bundle b(TrustDomain::parse("example.org").value());
    REQUIRE(b.addX509Authority(ca.get()));
    if (extraCa) {
      REQUIRE(b.addX509Authority(extraCa.get()));
    }
    REQUIRE(b.addJwtAuthority(kid, jwtKey));
    b.setSequence(1);
    bundleText = b.toSpiffeJson().value();
    writeFile(dir.file("bundle.json"), bundleText);
  }

  testing::RunResult verify(const std::string& token, const std::string& audience = kAud) {
    writeFile(dir.file("token"), token);
    auto r =
        testing::run({testing::python(), testing::sourceDir() + "/tests/svid/tools/verify_jwt.py",
                      "--jwks", dir.file("bundle.json"), "--audience", audience, "--token-file",
                      dir.file("token"), "--expect-sub", kSub});
    INFO(r.output);
    return r;
  }
};

std::string mint(const JwtSigner& signer, const std::string& aud = kAud) {
  auto token = mintJwtSvid(signer, SpiffeId::parse(kSub).value(), {aud},
                           std::chrono::system_clock::now(), Seconds(300));
  REQUIRE(token);
  return *token;
}

TEST_CASE(
    "PyJWT accepts our ES256, ES384, RS256 and PS256 tokens and bundles (JWT-1 … JWT-10, "
    "BUNDLE-5, BUNDLE-7)",
    "[svid][jwt][interop]") {
  struct Case {
    const char* alg;
    const char* type;
    const char* curve;
    bool pss;
  };
  for (const Case& c : {Case{"ES256", "EC", "P-256", false}, Case{"ES384", "EC", "P-384", false},
                        Case{"ES512", "EC", "P-521", false}, Case{"RS256", "RSA", "", false},
                        Case{"PS256", "RSA", "", true}}) {
    SECTION(c.alg) {
      Interop io;
      auto key = makeKey(c.type, c.curve);
      auto signer = JwtSigner::create(ossl::upRef(key.get()), "", c.pss);
      REQUIRE(signer);
      REQUIRE(std::string(jwtAlgName(signer->alg())) == c.alg);
      io.extraCa = selfSigned(key.get());  // an x509-svid entry with this key type too
      io.writeBundle(signer->kid(), key.get());
      auto r = io.verify(mint(*signer));
      INFO(r.output);
      CHECK(r.exitCode == 0);
      CHECK_THAT(r.output, Catch::Contains(std::string("valid: alg=") + c.alg));
      // Both x509-svid entries' key members matched their x5c certificates in PyJWT's parser.
      CHECK_THAT(r.output, Catch::Contains("x509_keys=2"));
    }
  }
}

TEST_CASE(
    "PyJWT rejects a foreign key with our kid, a tampered payload and a wrong audience "
    "(JWT-11)",
    "[svid][jwt][interop]") {
  Interop io;
  auto key = makeKey("EC", "P-256");
  auto signer = JwtSigner::create(ossl::upRef(key.get()), "kid-1");
  REQUIRE(signer);
  io.writeBundle("kid-1", key.get());
  std::string good = mint(*signer);
  REQUIRE(io.verify(good).exitCode == 0);

  SECTION("a token signed by a foreign key with the same kid") {
    auto foreign = JwtSigner::create(makeKey("EC", "P-256"), "kid-1");
    REQUIRE(foreign);
    auto r = io.verify(mint(*foreign));
    INFO(r.output);
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.output, Catch::Contains("invalid"));
  }
  SECTION("a tampered payload") {
    size_t dot1 = good.find('.');
    size_t dot2 = good.rfind('.');
    json claims = json::parse(*base64UrlDecode(good.substr(dot1 + 1, dot2 - dot1 - 1)));
    claims["exp"] = claims["exp"].get<int64_t>() + 3600;
    std::string tampered =
        good.substr(0, dot1 + 1) + base64UrlEncode(claims.dump()) + good.substr(dot2);
    auto r = io.verify(tampered);
    INFO(r.output);
    CHECK(r.exitCode == 1);
  }
  SECTION("a wrong audience") {
    auto r = io.verify(good, "spiffe://example.org/other");
    INFO(r.output);
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.output, Catch::Contains("audience"));
  }
  SECTION("an expired token") {
    auto old = mintJwtSvid(*signer, SpiffeId::parse(kSub).value(), {kAud},
                           std::chrono::system_clock::now() - Seconds(3600), Seconds(300));
    REQUIRE(old);
    auto r = io.verify(*old);
    INFO(r.output);
    CHECK(r.exitCode == 1);
  }
  SECTION("an x509-svid entry whose key members do not match its certificate") {
    json bundle = json::parse(io.bundleText);
    json jwtEntry;
    for (const json& k : bundle["keys"]) {
      if (k["use"] == "jwt-svid") {
        jwtEntry = k;
      }
    }
    for (json& k : bundle["keys"]) {
      if (k["use"] == "x509-svid") {
        k["x"] = jwtEntry["x"];
        k["y"] = jwtEntry["y"];
      }
    }
    writeFile(io.dir.file("bundle.json"), bundle.dump());
    auto r = io.verify(good);
    INFO(r.output);
    CHECK(r.exitCode == 1);
    CHECK_THAT(r.output, Catch::Contains("do not match"));
  }
}

}  // namespace
}  // namespace lanyard::svid
