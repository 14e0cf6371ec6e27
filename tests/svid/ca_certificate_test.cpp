// SPDX-License-Identifier: Apache-2.0
// Tests for svid/ca_certificate.cpp's external signing (the path a TPM-resident CA key takes),
// with a software key standing in for the TPM.
#include "svid/ca_certificate.h"

#include <catch2/catch.hpp>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "svid/key.h"
#include "test_ca.h"

namespace lanyard::svid {
namespace {

using testing::td;

const SysTime kNow = fromUnixSeconds(1'800'000'000);

// What TpmSigningKey::sign() returns: DER ECDSA over SHA-256(data), by `key`.
ExternalSigner softwareSigner(EVP_PKEY* key, int* calls = nullptr) {
  return [key, calls](std::string_view data) -> Result<std::string> {
    if (calls != nullptr) {
      ++*calls;
    }
    ossl::UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
    size_t len = 0;
    REQUIRE(EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1);
    REQUIRE(EVP_DigestSign(md.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
    sig.resize(len);
    return sig;
  };
}

CaCertParams params(const std::string& cn) {
  return {td("example.org"), kNow - Seconds(10), kNow + Seconds(86400), cn, -1};
}

}  // namespace

TEST_CASE("an externally signed root and intermediate verify like software-signed ones (X509-12)",
          "[svid][ca]") {
  auto rootKey = generateKey(KeyType::EcP256);
  REQUIRE(rootKey);
  int calls = 0;
  auto root = makeCaCertificate(params("tpm root"), rootKey->get(), nullptr, rootKey->get(),
                                softwareSigner(rootKey->get(), &calls));
  REQUIRE(root);
  CHECK(calls == 1);
  CHECK(isSelfSigned(root->get()));
  CHECK(X509_get_signature_nid(root->get()) == NID_ecdsa_with_SHA256);

  auto subKey = generateKey(KeyType::EcP256);
  auto sub = makeCaCertificate(params("issuing ca"), subKey->get(), root->get(), rootKey->get(),
                               softwareSigner(rootKey->get(), &calls));
  REQUIRE(sub);
  CHECK(calls == 2);
  CHECK(X509_verify(sub->get(), X509_get0_pubkey(root->get())) == 1);
  CHECK(X509_check_issued(root->get(), sub->get()) == X509_V_OK);
  CHECK((X509_get_extension_flags(sub->get()) & EXFLAG_CA) != 0);
}

TEST_CASE("an external signature that does not verify is refused", "[svid][ca]") {
  auto rootKey = generateKey(KeyType::EcP256);
  auto other = generateKey(KeyType::EcP256);
  auto bad = makeCaCertificate(params("tpm root"), rootKey->get(), nullptr, rootKey->get(),
                               softwareSigner(other->get()));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Code::FailedPrecondition);
  auto failing = makeCaCertificate(
      params("tpm root"), rootKey->get(), nullptr, rootKey->get(),
      [](std::string_view) -> Result<std::string> { return fail(Code::Unavailable, "no TPM"); });
  REQUIRE_FALSE(failing);
  CHECK(failing.error().code == Code::Unavailable);
}

TEST_CASE("a certificate request signed by an external signer asks for a SPIFFE CA", "[svid][ca]") {
  auto key = generateKey(KeyType::EcP256);
  REQUIRE(key);
  int calls = 0;
  auto pem = makeCaRequestPem(td("example.org"), "lanyard tpm ca", key->get(),
                              softwareSigner(key->get(), &calls));
  REQUIRE(pem);
  CHECK(calls == 1);
  CHECK_THAT(*pem, Catch::StartsWith("-----BEGIN CERTIFICATE REQUEST-----"));
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  ossl::UniquePtr<X509_REQ> req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(req);
  CHECK(X509_REQ_verify(req.get(), key->get()) == 1);
  CHECK(EVP_PKEY_eq(X509_REQ_get0_pubkey(req.get()), key->get()) == 1);
  CHECK(X509_REQ_get_signature_nid(req.get()) == NID_ecdsa_with_SHA256);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName, cn, sizeof(cn));
  CHECK(std::string(cn) == "lanyard tpm ca");
  // The requested extensions: what makeCaCertificate puts in a CA (X509-4, X509-5, ID-8).
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  REQUIRE(exts != nullptr);
  std::vector<int> nids;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    nids.push_back(OBJ_obj2nid(X509_EXTENSION_get_object(ext)));
    if (nids.back() == NID_basic_constraints || nids.back() == NID_key_usage) {
      CHECK(X509_EXTENSION_get_critical(ext) == 1);
    }
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  CHECK(nids == std::vector<int>{NID_basic_constraints, NID_key_usage, NID_subject_alt_name});
}

TEST_CASE("a certificate request whose external signature does not verify is refused",
          "[svid][ca]") {
  auto key = generateKey(KeyType::EcP256);
  auto other = generateKey(KeyType::EcP256);
  auto bad = makeCaRequestPem(td("example.org"), "x", key->get(), softwareSigner(other->get()));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Code::FailedPrecondition);
  auto failing = makeCaRequestPem(
      td("example.org"), "x", key->get(),
      [](std::string_view) -> Result<std::string> { return fail(Code::Unavailable, "no TPM"); });
  REQUIRE_FALSE(failing);
  CHECK(failing.error().code == Code::Unavailable);
  CHECK_THAT(failing.error().message, Catch::Contains("signing the certificate request"));
}

}  // namespace lanyard::svid
