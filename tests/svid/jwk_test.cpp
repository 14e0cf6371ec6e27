// SPDX-License-Identifier: Apache-2.0
// Tests for svid/jwk.cpp: JWK key members for EC and RSA keys, strict parsing (BUNDLE-7), kids.
#include "svid/jwk.h"

#include <string>

#include <catch2/catch.hpp>
#include <openssl/core_names.h>

#include "svid/encoding.h"

namespace lanyard::svid {
namespace {

using nlohmann::json;

ossl::UniquePtr<EVP_PKEY> ecKey(const char* curve) {
  return ossl::UniquePtr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

ossl::UniquePtr<EVP_PKEY> rsaKey(size_t bits) {
  return ossl::UniquePtr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
}

/// One RSA-2048 key for the whole file; generating them is slow.
EVP_PKEY* sharedRsa() {
  static ossl::UniquePtr<EVP_PKEY> key = rsaKey(2048);
  return key.get();
}

json jwkOf(const EVP_PKEY* key) {
  auto jwk = publicKeyToJwk(key);
  REQUIRE(jwk);
  return *jwk;
}

size_t decodedSize(const json& jwk, const char* member) {
  auto raw = base64UrlDecode(jwk.at(member).get<std::string>());
  REQUIRE(raw);
  return raw->size();
}

Error parseError(const json& jwk) {
  auto key = publicKeyFromJwk(jwk);
  REQUIRE_FALSE(key);
  CHECK(key.error().code == Code::InvalidArgument);
  return key.error();
}

TEST_CASE("EC keys round-trip through JWK key members of the curve size (BUNDLE-7)",
          "[svid][jwk]") {
  struct Case {
    const char* opensslCurve;
    const char* crv;
    size_t size;
  };
  for (const Case& c :
       {Case{"P-256", "P-256", 32}, Case{"P-384", "P-384", 48}, Case{"P-521", "P-521", 66}}) {
    SECTION(c.crv) {
      auto key = ecKey(c.opensslCurve);
      json jwk = jwkOf(key.get());
      CHECK(jwk.size() == 4);
      CHECK(jwk.at("kty") == "EC");
      CHECK(jwk.at("crv") == c.crv);
      CHECK(decodedSize(jwk, "x") == c.size);
      CHECK(decodedSize(jwk, "y") == c.size);
      CHECK(jwk.find("d") == jwk.end());
      auto back = publicKeyFromJwk(jwk);
      REQUIRE(back);
      CHECK(EVP_PKEY_eq(back->get(), key.get()) == 1);
    }
  }
}

TEST_CASE("EC coordinates with leading zero bytes are left-padded (BUNDLE-7)", "[svid][jwk]") {
  // About one P-256 key in 128 has a coordinate below 2^248; search until one turns up.
  for (int i = 0; i < 5000; ++i) {
    auto key = ecKey("P-256");
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    REQUIRE(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1);
    REQUIRE(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1);
    bool shortCoordinate = BN_num_bytes(x) < 32 || BN_num_bytes(y) < 32;
    BN_free(x);
    BN_free(y);
    if (shortCoordinate) {
      json jwk = jwkOf(key.get());
      CHECK(decodedSize(jwk, "x") == 32);
      CHECK(decodedSize(jwk, "y") == 32);
      auto back = publicKeyFromJwk(jwk);
      REQUIRE(back);
      CHECK(EVP_PKEY_eq(back->get(), key.get()) == 1);
      return;
    }
  }
  FAIL("no P-256 key with a short coordinate in 5000 tries");
}

TEST_CASE("RSA keys round-trip through n and e (BUNDLE-7)", "[svid][jwk]") {
  json jwk = jwkOf(sharedRsa());
  CHECK(jwk.size() == 3);
  CHECK(jwk.at("kty") == "RSA");
  CHECK(jwk.at("e") == "AQAB");
  CHECK(decodedSize(jwk, "n") == 256);
  auto back = publicKeyFromJwk(jwk);
  REQUIRE(back);
  CHECK(EVP_PKEY_eq(back->get(), sharedRsa()) == 1);
}

TEST_CASE("a JWK with a missing or unknown kty is rejected (BUNDLE-7)", "[svid][jwk]") {
  json ec = jwkOf(ecKey("P-256").get());
  SECTION("missing") {
    ec.erase("kty");
    CHECK_THAT(parseError(ec).message, Catch::Contains("kty"));
  }
  SECTION("unknown") {
    ec["kty"] = "oct";
    CHECK_THAT(parseError(ec).message, Catch::Contains("kty"));
  }
  SECTION("OKP (Ed25519)") {
    CHECK_THAT(parseError(json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}}).message,
               Catch::Contains("kty"));
  }
  SECTION("case matters") {
    ec["kty"] = "ec";
    parseError(ec);
  }
  SECTION("not a string") {
    ec["kty"] = 5;
    parseError(ec);
  }
  SECTION("not an object") {
    CHECK_THAT(parseError(json::array({"EC"})).message, Catch::Contains("not a JSON object"));
    parseError(json("EC"));
    parseError(json());
  }
}

TEST_CASE("an EC JWK with an unsupported or missing crv is rejected (BUNDLE-7)", "[svid][jwk]") {
  json ec = jwkOf(ecKey("P-256").get());
  SECTION("P-192") {
    ec["crv"] = "P-192";
    CHECK_THAT(parseError(ec).message, Catch::Contains("curve"));
  }
  SECTION("secp256k1") {
    ec["crv"] = "secp256k1";
    parseError(ec);
  }
  SECTION("OpenSSL's name is not a JWK name") {
    ec["crv"] = "prime256v1";
    parseError(ec);
  }
  SECTION("missing") {
    ec.erase("crv");
    parseError(ec);
  }
  SECTION("wrong type") {
    ec["crv"] = json::array({"P-256"});
    parseError(ec);
  }
}

TEST_CASE("EC coordinates must be exactly the curve size (BUNDLE-7)", "[svid][jwk]") {
  json ec = jwkOf(ecKey("P-256").get());
  std::string x = *base64UrlDecode(ec["x"].get<std::string>());
  SECTION("one byte short") {
    ec["x"] = base64UrlEncode(x.substr(1));
    CHECK_THAT(parseError(ec).message, Catch::Contains("32 bytes"));
  }
  SECTION("a leading zero too many") {
    ec["x"] = base64UrlEncode(std::string(1, '\0') + x);
    parseError(ec);
  }
  SECTION("P-384 coordinates under crv P-256") {
    json p384 = jwkOf(ecKey("P-384").get());
    p384["crv"] = "P-256";
    parseError(p384);
  }
  SECTION("P-256 coordinates under crv P-384") {
    ec["crv"] = "P-384";
    parseError(ec);
  }
  SECTION("missing y") {
    ec.erase("y");
    CHECK_THAT(parseError(ec).message, Catch::Contains("\"y\""));
  }
  SECTION("x is a number") {
    ec["x"] = 12;
    CHECK_THAT(parseError(ec).message, Catch::Contains("not a string"));
  }
}

TEST_CASE("an EC point that is not on the curve is rejected (BUNDLE-7)", "[svid][jwk]") {
  json ec = jwkOf(ecKey("P-256").get());
  SECTION("changed y") {
    std::string y = *base64UrlDecode(ec["y"].get<std::string>());
    y.back() = static_cast<char>(y.back() ^ 1);
    ec["y"] = base64UrlEncode(y);
    CHECK_THAT(parseError(ec).message, Catch::Contains("curve"));
  }
  SECTION("the point (0, 0)") {
    ec["x"] = base64UrlEncode(std::string(32, '\0'));
    ec["y"] = base64UrlEncode(std::string(32, '\0'));
    parseError(ec);
  }
  SECTION("coordinates beyond the field prime") {
    ec["x"] = base64UrlEncode(std::string(32, '\xff'));
    parseError(ec);
  }
}

TEST_CASE("JWK key members must be unpadded base64url (BUNDLE-7)", "[svid][jwk]") {
  json ec = jwkOf(ecKey("P-256").get());
  // 32 bytes encode to 43 characters, so padding would add one '='.
  SECTION("padded") {
    ec["x"] = ec["x"].get<std::string>() + "=";
    CHECK_THAT(parseError(ec).message, Catch::Contains("base64url"));
  }
  SECTION("standard alphabet") {
    std::string x = *base64UrlDecode(ec["x"].get<std::string>());
    std::string standard = base64Encode(x);
    standard.pop_back();  // drop the padding
    if (standard.find_first_of("+/") == std::string::npos) {
      standard[0] = '+';
    }
    ec["x"] = standard;
    parseError(ec);
  }
  SECTION("whitespace") {
    ec["y"] = " " + ec["y"].get<std::string>();
    parseError(ec);
  }
  SECTION("RSA n padded") {
    json rsa = jwkOf(sharedRsa());
    rsa["e"] = "AQAB==";
    parseError(rsa);
  }
}

TEST_CASE("RSA JWKs under 2048 bits or with bad parameters are rejected (BUNDLE-7)",
          "[svid][jwk]") {
  json rsa = jwkOf(sharedRsa());
  SECTION("1024-bit modulus") {
    json small = jwkOf(rsaKey(1024).get());
    CHECK_THAT(parseError(small).message, Catch::Contains("2048"));
  }
  SECTION("even modulus") {
    std::string n = *base64UrlDecode(rsa["n"].get<std::string>());
    n.back() = static_cast<char>(n.back() & 0xfe);
    rsa["n"] = base64UrlEncode(n);
    parseError(rsa);
  }
  SECTION("exponent 1") {
    rsa["e"] = base64UrlEncode(std::string(1, '\x01'));
    CHECK_THAT(parseError(rsa).message, Catch::Contains("exponent"));
  }
  SECTION("even exponent") {
    rsa["e"] = base64UrlEncode(std::string(1, '\x02'));
    parseError(rsa);
  }
  SECTION("exponent above 2^31-1") {
    rsa["e"] = base64UrlEncode(std::string("\x01\x00\x00\x00\x01", 5));
    parseError(rsa);
  }
  SECTION("missing n") {
    rsa.erase("n");
    parseError(rsa);
  }
  SECTION("e is an array") {
    rsa["e"] = json::array({"AQAB"});
    parseError(rsa);
  }
  SECTION("empty e") {
    rsa["e"] = "";
    parseError(rsa);
  }
}

TEST_CASE("leading zero bytes in an RSA modulus are tolerated", "[svid][jwk]") {
  json rsa = jwkOf(sharedRsa());
  rsa["n"] = base64UrlEncode(std::string(1, '\0') + *base64UrlDecode(rsa["n"].get<std::string>()));
  auto back = publicKeyFromJwk(rsa);
  REQUIRE(back);
  CHECK(EVP_PKEY_eq(back->get(), sharedRsa()) == 1);
}

TEST_CASE("members a JWK parser does not know are ignored", "[svid][jwk]") {
  auto key = ecKey("P-256");
  json jwk = jwkOf(key.get());
  jwk["use"] = "jwt-svid";
  jwk["kid"] = "k1";
  jwk["alg"] = "ES256";
  jwk["x-extension"] = json{{"nested", json::array({1, 2})}};
  auto back = publicKeyFromJwk(jwk);
  REQUIRE(back);
  CHECK(EVP_PKEY_eq(back->get(), key.get()) == 1);
}

TEST_CASE("keys other than EC P-256/P-384/P-521 and RSA have no JWK (JWT-2, BUNDLE-7)",
          "[svid][jwk]") {
  SECTION("Ed25519") {
    ossl::UniquePtr<EVP_PKEY> ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    REQUIRE(ed);
    auto jwk = publicKeyToJwk(ed.get());
    REQUIRE_FALSE(jwk);
    CHECK(jwk.error().code == Code::InvalidArgument);
  }
  SECTION("secp256k1") {
    auto k1 = ecKey("secp256k1");
    REQUIRE(k1);
    CHECK_FALSE(publicKeyToJwk(k1.get()));
  }
  SECTION("null") { CHECK_FALSE(publicKeyToJwk(nullptr)); }
}

TEST_CASE("a key ID is 32 base64url characters of the SPKI hash, stable per key", "[svid][jwk]") {
  auto a = ecKey("P-256");
  auto b = ecKey("P-256");
  auto kidA = keyIdFor(a.get());
  REQUIRE(kidA);
  CHECK(kidA->size() == 32);
  CHECK(
      kidA->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
      std::string::npos);
  CHECK(*keyIdFor(a.get()) == *kidA);
  CHECK(*keyIdFor(b.get()) != *kidA);
  // The public half alone has the same kid.
  auto pub = publicKeyFromJwk(jwkOf(a.get()));
  REQUIRE(pub);
  CHECK(*keyIdFor(pub->get()) == *kidA);
  CHECK(keyIdFor(sharedRsa())->size() == 32);
  CHECK_FALSE(keyIdFor(nullptr));
}

}  // namespace
}  // namespace lanyard::svid
