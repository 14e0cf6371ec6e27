// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/tpm/quote.cpp: quotes built here in TPM wire format and signed with a
// software key, then tampered with one field at a time; TPM public areas to OpenSSL keys.
#include "attestors/tpm/quote.h"

#include <array>
#include <cstring>

#include <catch2/catch.hpp>
#include <openssl/core_names.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

namespace lanyard::attestors::tpm {
namespace {

ossl::UniquePtr<EVP_PKEY> newKey(const char* type, const char* curveOrBits) {
  EVP_PKEY* raw =
      std::strcmp(type, "EC") == 0 ? EVP_EC_gen(curveOrBits) : EVP_RSA_gen(std::stoul(curveOrBits));
  REQUIRE(raw != nullptr);
  return ossl::UniquePtr<EVP_PKEY>(raw);
}

std::string bnBytes(EVP_PKEY* key, const char* param, size_t pad) {
  BIGNUM* bn = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key, param, &bn) == 1);
  std::string out(pad == 0 ? static_cast<size_t>(BN_num_bytes(bn)) : pad, '\0');
  REQUIRE(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()),
                       static_cast<int>(out.size())) == static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

template <typename B>
void fill(B& b, const std::string& bytes) {
  REQUIRE(bytes.size() <= sizeof(b.buffer));
  b.size = static_cast<uint16_t>(bytes.size());
  std::memcpy(b.buffer, bytes.data(), bytes.size());
}

// The marshalled TPMT_PUBLIC a TPM would report for `key`.
std::string tpmtPublicOf(EVP_PKEY* key) {
  TPMT_PUBLIC pub{};
  pub.nameAlg = TPM2_ALG_SHA256;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    pub.type = TPM2_ALG_ECC;
    pub.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    pub.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    pub.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    fill(pub.unique.ecc.x, bnBytes(key, OSSL_PKEY_PARAM_EC_PUB_X, 32));
    fill(pub.unique.ecc.y, bnBytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
  } else {
    pub.type = TPM2_ALG_RSA;
    pub.parameters.rsaDetail.keyBits = 2048;
    pub.parameters.rsaDetail.exponent = 0;  // the default, 65537
    pub.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    fill(pub.unique.rsa, bnBytes(key, OSSL_PKEY_PARAM_RSA_N, 0));
  }
  std::array<uint8_t, sizeof(TPMT_PUBLIC)> buf{};
  size_t off = 0;
  REQUIRE(Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf.data(), buf.size(), &off) == TSS2_RC_SUCCESS);
  return std::string(reinterpret_cast<const char*>(buf.data()), off);
}

struct QuoteFields {
  uint32_t magic = TPM2_GENERATED_VALUE;
  uint16_t type = TPM2_ST_ATTEST_QUOTE;
  std::string nonce;
  std::vector<uint32_t> selected;
  std::string digest;
};

std::string attestBytes(const QuoteFields& f) {
  TPMS_ATTEST a{};
  a.magic = f.magic;
  a.type = f.type;
  fill(a.extraData, f.nonce);
  auto& sel = a.attested.quote.pcrSelect;
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  for (uint32_t i : f.selected) {
    sel.pcrSelections[0].pcrSelect[i / 8] |= static_cast<uint8_t>(1U << (i % 8));
  }
  fill(a.attested.quote.pcrDigest, f.digest);
  std::array<uint8_t, sizeof(TPMS_ATTEST)> buf{};
  size_t off = 0;
  REQUIRE(Tss2_MU_TPMS_ATTEST_Marshal(&a, buf.data(), buf.size(), &off) == TSS2_RC_SUCCESS);
  return std::string(reinterpret_cast<const char*>(buf.data()), off);
}

// TPMT_SIGNATURE over SHA-256(data) with `key`, as a TPM returns it.
std::string sign(EVP_PKEY* key, const std::string& data) {
  ossl::UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  REQUIRE(EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) == 1);
  size_t len = 0;
  REQUIRE(EVP_DigestSign(md.get(), nullptr, &len,
                         reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
  std::string der(len, '\0');
  REQUIRE(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                         reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
  der.resize(len);
  TPMT_SIGNATURE sig{};
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ossl::UniquePtr<ECDSA_SIG> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    REQUIRE(es);
    sig.sigAlg = TPM2_ALG_ECDSA;
    sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
    std::string r(32, '\0');
    std::string s(32, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(r.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(s.data()), 32);
    fill(sig.signature.ecdsa.signatureR, r);
    fill(sig.signature.ecdsa.signatureS, s);
  } else {
    sig.sigAlg = TPM2_ALG_RSASSA;
    sig.signature.rsassa.hash = TPM2_ALG_SHA256;
    fill(sig.signature.rsassa.sig, der);
  }
  std::array<uint8_t, sizeof(TPMT_SIGNATURE)> buf{};
  size_t off = 0;
  REQUIRE(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, buf.data(), buf.size(), &off) == TSS2_RC_SUCCESS);
  return std::string(reinterpret_cast<const char*>(buf.data()), off);
}

PcrValues somePcrs() {
  PcrValues p;
  p.indexes = {0, 7, 16};
  p.values = {std::string(32, '\0'), std::string(32, '\x07'), std::string(32, '\x16')};
  return p;
}

const std::string kNonce(32, 'n');

QuoteFields goodFields() {
  return {.nonce = kNonce, .selected = {0, 7, 16}, .digest = pcrDigest(somePcrs())};
}

Quote signedQuote(EVP_PKEY* key, const QuoteFields& f) {
  Quote q;
  q.attest = attestBytes(f);
  q.signature = sign(key, q.attest);
  return q;
}

}  // namespace

TEST_CASE("a quote signed by the AK over the nonce and the PCRs read verifies",
          "[attestors][tpm]") {
  for (auto [type, param] : {std::pair{"EC", "P-256"}, std::pair{"RSA", "2048"}}) {
    INFO(type);
    auto key = newKey(type, param);
    auto ak = publicKeyFromTpmt(tpmtPublicOf(key.get()));
    REQUIRE(ak);
    CHECK(verifyQuote(signedQuote(key.get(), goodFields()), ak->get(), kNonce, somePcrs()));
  }
}

TEST_CASE("a quote is refused when any checked field differs", "[attestors][tpm]") {
  auto key = newKey("EC", "P-256");
  auto ak = publicKeyFromTpmt(tpmtPublicOf(key.get()));
  REQUIRE(ak);
  auto refused = [&](const Quote& q, const std::string& nonce, const PcrValues& pcrs,
                     const std::string& why) {
    auto r = verifyQuote(q, ak->get(), nonce, pcrs);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::PermissionDenied);
    CHECK_THAT(r.error().message, Catch::Contains(why));
  };
  const Quote good = signedQuote(key.get(), goodFields());

  SECTION("another nonce than the one sent (a replayed quote)") {
    refused(good, std::string(32, 'x'), somePcrs(), "nonce");
  }
  SECTION("PCR values that are not the ones quoted") {
    PcrValues other = somePcrs();
    other.values[2][0] ^= 1;
    refused(good, kNonce, other, "PCR digest");
  }
  SECTION("an altered PCR digest, re-signed") {
    QuoteFields f = goodFields();
    f.digest[5] ^= 1;
    refused(signedQuote(key.get(), f), kNonce, somePcrs(), "PCR digest");
  }
  SECTION("a selection other than the PCRs asked for") {
    QuoteFields f = goodFields();
    f.selected = {0, 7};
    refused(signedQuote(key.get(), f), kNonce, somePcrs(), "selection");
  }
  SECTION("not TPM-generated (TPM2_Sign of a forged structure)") {
    QuoteFields f = goodFields();
    f.magic = 0x12345678;
    refused(signedQuote(key.get(), f), kNonce, somePcrs(), "TPM_GENERATED");
  }
  SECTION("another attestation type") {
    QuoteFields f = goodFields();
    f.type = TPM2_ST_ATTEST_CERTIFY;
    refused(signedQuote(key.get(), f), kNonce, somePcrs(), "not a quote");
  }
  SECTION("a byte of the signed structure changed after signing") {
    Quote q = good;
    q.attest[q.attest.size() - 1] ^= 1;
    refused(q, kNonce, somePcrs(), "");
  }
  SECTION("signed by another key") {
    auto other = newKey("EC", "P-256");
    refused(signedQuote(other.get(), goodFields()), kNonce, somePcrs(), "signature");
  }
  SECTION("trailing bytes or a truncated structure") {
    Quote q = good;
    q.attest += "x";
    refused(q, kNonce, somePcrs(), "malformed");
    q = good;
    q.attest.resize(q.attest.size() / 2);
    refused(q, kNonce, somePcrs(), "malformed");
    q = good;
    q.signature.resize(4);
    refused(q, kNonce, somePcrs(), "malformed");
  }
  SECTION("an RSA signature for an ECC attestation key") {
    auto rsa = newKey("RSA", "2048");
    refused(signedQuote(rsa.get(), goodFields()), kNonce, somePcrs(), "signature algorithm");
  }
}

TEST_CASE("TPM public areas become the same OpenSSL keys", "[attestors][tpm]") {
  for (auto [type, param] : {std::pair{"EC", "P-256"}, std::pair{"RSA", "2048"}}) {
    INFO(type);
    auto key = newKey(type, param);
    auto fromTpm = publicKeyFromTpmt(tpmtPublicOf(key.get()));
    REQUIRE(fromTpm);
    auto want = subjectPublicKeyInfo(key.get());
    auto got = subjectPublicKeyInfo(fromTpm->get());
    REQUIRE(want);
    REQUIRE(got);
    CHECK(*got == *want);
  }
  CHECK_FALSE(publicKeyFromTpmt(""));
  CHECK_FALSE(publicKeyFromTpmt(tpmtPublicOf(newKey("EC", "P-256").get()) + "x"));
}

TEST_CASE("pcrDigest is SHA-256 over the values in index order", "[attestors][tpm]") {
  // sha256 of 32 zero bytes followed by 32 0x07 bytes and 32 0x16 bytes, by Python's hashlib.
  CHECK(hex(pcrDigest(somePcrs())) ==
        "2de6391bcc7585f18ce173850f18583965638c19552b72c2cd23a71f3c968778");
}

}  // namespace lanyard::attestors::tpm
