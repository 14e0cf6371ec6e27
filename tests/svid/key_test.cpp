// SPDX-License-Identifier: Apache-2.0
// Tests for svid/key.cpp: generation, type detection and PEM/DER round trips.
#include "svid/key.h"

#include <catch2/catch.hpp>
#include <openssl/encoder.h>
#include <openssl/x509.h>

namespace lanyard::svid {
namespace {

TEST_CASE("every supported key type generates, reports its type and round-trips", "[svid][key]") {
  for (auto type : {KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048}) {
    auto key = generateKey(type);
    REQUIRE(key);
    CHECK(*keyTypeOf(key->get()) == type);
    auto pem = privateKeyToPem(key->get());
    REQUIRE(pem);
    CHECK_THAT(*pem, Catch::StartsWith("-----BEGIN PRIVATE KEY-----"));
    auto back = privateKeyFromPem(*pem);
    REQUIRE(back);
    CHECK(EVP_PKEY_eq(key->get(), back->get()) == 1);
    auto der = privateKeyToDer(key->get());
    REQUIRE(der);
    auto back2 = privateKeyFromDer(*der);
    REQUIRE(back2);
    CHECK(EVP_PKEY_eq(key->get(), back2->get()) == 1);
  }
}

TEST_CASE("the fast P-256 PKCS#8 encoding is byte-identical to OpenSSL's encoder", "[svid][key]") {
  for (int i = 0; i < 50; ++i) {
    auto key = *generateKey(KeyType::EcP256);
    auto ours = privateKeyToDer(key.get());
    REQUIRE(ours);
    unsigned char* der = nullptr;
    ossl::UniquePtr<PKCS8_PRIV_KEY_INFO> p8(EVP_PKEY2PKCS8(key.get()));
    int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
    REQUIRE(len > 0);
    std::string theirs(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    CHECK(*ours == theirs);
  }
}

TEST_CASE("DER private keys must be PKCS#8, as go-spiffe requires (X509-10)", "[svid][key]") {
  auto key = *generateKey(KeyType::EcP256);
  // SEC1 "EC PRIVATE KEY" DER, the traditional form.
  unsigned char* der = nullptr;
  ossl::UniquePtr<OSSL_ENCODER_CTX> ectx(OSSL_ENCODER_CTX_new_for_pkey(
      key.get(), OSSL_KEYMGMT_SELECT_ALL, "DER", "type-specific", nullptr));
  size_t len = 0;
  REQUIRE(OSSL_ENCODER_to_data(ectx.get(), &der, &len) == 1);
  std::string sec1(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  CHECK_FALSE(privateKeyFromDer(sec1));
  CHECK(privateKeyFromDer(*privateKeyToDer(key.get())));
}

TEST_CASE("two generated keys differ", "[svid][key]") {
  auto a = generateKey(KeyType::EcP256);
  auto b = generateKey(KeyType::EcP256);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(EVP_PKEY_eq(a->get(), b->get()) != 1);
}

TEST_CASE("key type names parse and unknown names are rejected", "[svid][key]") {
  CHECK(*keyTypeFromName("ec-p256") == KeyType::EcP256);
  CHECK(*keyTypeFromName("rsa-4096") == KeyType::Rsa4096);
  auto bad = keyTypeFromName("ed25519");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Code::InvalidArgument);
  CHECK_THAT(bad.error().message, Catch::Contains("ec-p256"));
}

TEST_CASE("malformed and unsupported private keys are rejected", "[svid][key]") {
  CHECK_FALSE(privateKeyFromPem(""));
  CHECK_FALSE(privateKeyFromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  CHECK_FALSE(privateKeyFromDer("\x30\x03\x02\x01"));
  auto pem = *privateKeyToPem(generateKey(KeyType::EcP256)->get());
  CHECK_FALSE(privateKeyFromPem(pem.substr(0, pem.size() / 2)));
  // Ed25519 keys parse in OpenSSL but are not a supported type here.
  ossl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr));
  EVP_PKEY* raw = nullptr;
  REQUIRE(EVP_PKEY_keygen_init(ctx.get()) == 1);
  REQUIRE(EVP_PKEY_generate(ctx.get(), &raw) == 1);
  ossl::UniquePtr<EVP_PKEY> ed(raw);
  auto edPem = *privateKeyToPem(ed.get());
  auto parsed = privateKeyFromPem(edPem);
  REQUIRE_FALSE(parsed);
  CHECK_THAT(parsed.error().message, Catch::Contains("unsupported key type"));
}

}  // namespace
}  // namespace lanyard::svid
