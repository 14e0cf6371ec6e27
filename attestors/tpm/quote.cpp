// SPDX-License-Identifier: Apache-2.0
// Quote verification with tss2-mu (unmarshalling only) and OpenSSL's EVP interface.
#include "attestors/tpm/quote.h"

#include <array>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

namespace lanyard::attestors::tpm {
namespace {

constexpr uint32_t kBankSelectBytes = 3;  // PCRs 0..23

Unexpected denied(std::string why) {
  return fail(Code::PermissionDenied, "verifying the TPM quote: " + std::move(why));
}

std::string bytesOf(const uint8_t* p, size_t n) {
  return std::string(reinterpret_cast<const char*>(p), n);
}

std::string sha256(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> md{};
  // One-shot EVP digest: SHA256() is not deprecated in OpenSSL 3, but keep to EVP.
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

Result<ossl::UniquePtr<EVP_PKEY>> fromParams(const char* type, OSSL_PARAM_BLD* bld) {
  ossl::UniquePtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  ossl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return ossl::fail("building the TPM key's public key", Code::InvalidArgument);
  }
  return ossl::UniquePtr<EVP_PKEY>(raw);
}

Result<ossl::UniquePtr<EVP_PKEY>> rsaKey(const TPMT_PUBLIC& pub) {
  const auto& n = pub.unique.rsa;
  if (n.size == 0 || n.size > sizeof(n.buffer)) {
    return fail(Code::InvalidArgument, "TPM RSA key: empty modulus");
  }
  ossl::UniquePtr<BIGNUM> bn(BN_bin2bn(n.buffer, n.size, nullptr));
  ossl::UniquePtr<BIGNUM> e(BN_new());
  const uint32_t exponent =
      pub.parameters.rsaDetail.exponent == 0 ? 65537U : pub.parameters.rsaDetail.exponent;
  ossl::UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bn || !e || !bld || BN_set_word(e.get(), exponent) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return ossl::fail("TPM RSA key");
  }
  return fromParams("RSA", bld.get());
}

Result<ossl::UniquePtr<EVP_PKEY>> eccKey(const TPMT_PUBLIC& pub) {
  const char* group = nullptr;
  size_t size = 0;
  switch (pub.parameters.eccDetail.curveID) {
    case TPM2_ECC_NIST_P256:
      group = "P-256", size = 32;
      break;
    case TPM2_ECC_NIST_P384:
      group = "P-384", size = 48;
      break;
    default:
      return fail(Code::InvalidArgument, "TPM ECC key: curve " +
                                             std::to_string(pub.parameters.eccDetail.curveID) +
                                             " is not NIST P-256 or P-384");
  }
  const auto& x = pub.unique.ecc.x;
  const auto& y = pub.unique.ecc.y;
  if (x.size == 0 || y.size == 0 || x.size > size || y.size > size) {
    return fail(Code::InvalidArgument, "TPM ECC key: point coordinates of the wrong size");
  }
  // Uncompressed point 04 || X || Y, each coordinate left-padded to the field size.
  std::string point(1 + 2 * size, '\0');
  point[0] = 0x04;
  point.replace(1 + size - x.size, x.size, bytesOf(x.buffer, x.size));
  point.replace(1 + 2 * size - y.size, y.size, bytesOf(y.buffer, y.size));
  ossl::UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return ossl::fail("TPM ECC key");
  }
  return fromParams("EC", bld.get());
}

bool sameSelection(const TPML_PCR_SELECTION& sel, const std::vector<uint32_t>& indexes) {
  if (sel.count != 1 || sel.pcrSelections[0].hash != TPM2_ALG_SHA256) {
    return false;
  }
  const auto& s = sel.pcrSelections[0];
  std::array<uint8_t, TPM2_PCR_SELECT_MAX> want{};
  for (uint32_t i : indexes) {
    want[i / 8] |= static_cast<uint8_t>(1U << (i % 8));
  }
  if (s.sizeofSelect < kBankSelectBytes || s.sizeofSelect > TPM2_PCR_SELECT_MAX) {
    return false;
  }
  for (size_t b = 0; b < s.sizeofSelect; ++b) {
    if (s.pcrSelect[b] != want[b]) {
      return false;
    }
  }
  return true;
}

// The DER ECDSA-Sig-Value of a TPM ECDSA signature.
Result<std::string> ecdsaDer(const TPMS_SIGNATURE_ECC& sig) {
  ossl::UniquePtr<ECDSA_SIG> es(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(sig.signatureR.buffer, sig.signatureR.size, nullptr);
  BIGNUM* s = BN_bin2bn(sig.signatureS.buffer, sig.signatureS.size, nullptr);
  if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return ossl::fail("decoding the quote's ECDSA signature");
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(es.get(), &der);
  if (len <= 0) {
    return ossl::fail("encoding the quote's ECDSA signature");
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

Result<ossl::UniquePtr<EVP_PKEY>> publicKeyFromTpmt(std::string_view tpmtPublic) {
  TPMT_PUBLIC pub{};
  size_t offset = 0;
  if (Tss2_MU_TPMT_PUBLIC_Unmarshal(reinterpret_cast<const uint8_t*>(tpmtPublic.data()),
                                    tpmtPublic.size(), &offset, &pub) != TSS2_RC_SUCCESS ||
      offset != tpmtPublic.size()) {
    return fail(Code::InvalidArgument, "TPM public area: malformed TPMT_PUBLIC");
  }
  switch (pub.type) {
    case TPM2_ALG_RSA:
      return rsaKey(pub);
    case TPM2_ALG_ECC:
      return eccKey(pub);
    default:
      return fail(Code::InvalidArgument,
                  "TPM public area: type " + std::to_string(pub.type) + " is not RSA or ECC");
  }
}

Result<std::string> subjectPublicKeyInfo(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) {
    return ossl::fail("encoding the TPM key as SubjectPublicKeyInfo");
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string pcrDigest(const PcrValues& pcrs) {
  std::string all;
  for (const auto& v : pcrs.values) {
    all += v;
  }
  return sha256(all);
}

Result<void> verifyQuote(const Quote& quote, EVP_PKEY* ak, std::string_view nonce,
                         const PcrValues& pcrs) {
  TPMS_ATTEST attest{};
  size_t offset = 0;
  if (Tss2_MU_TPMS_ATTEST_Unmarshal(reinterpret_cast<const uint8_t*>(quote.attest.data()),
                                    quote.attest.size(), &offset, &attest) != TSS2_RC_SUCCESS ||
      offset != quote.attest.size()) {
    return denied("malformed TPMS_ATTEST");
  }
  if (attest.magic != TPM2_GENERATED_VALUE) {
    return denied("magic is not TPM_GENERATED_VALUE (not made by the TPM)");
  }
  if (attest.type != TPM2_ST_ATTEST_QUOTE) {
    return denied("attestation type " + std::to_string(attest.type) + " is not a quote");
  }
  if (bytesOf(attest.extraData.buffer, attest.extraData.size) != nonce) {
    return denied("the nonce (extraData) is not the one sent");
  }
  if (!sameSelection(attest.attested.quote.pcrSelect, pcrs.indexes)) {
    return denied("the quoted PCR selection is not the SHA-256 PCRs asked for");
  }
  const auto& digest = attest.attested.quote.pcrDigest;
  if (pcrs.values.size() != pcrs.indexes.size() ||
      bytesOf(digest.buffer, digest.size) != pcrDigest(pcrs)) {
    return denied("the PCR digest does not match the PCR values read");
  }

  TPMT_SIGNATURE sig{};
  offset = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(reinterpret_cast<const uint8_t*>(quote.signature.data()),
                                       quote.signature.size(), &offset, &sig) != TSS2_RC_SUCCESS ||
      offset != quote.signature.size()) {
    return denied("malformed TPMT_SIGNATURE");
  }
  std::string signature;
  int keyType = EVP_PKEY_get_base_id(ak);
  if (sig.sigAlg == TPM2_ALG_ECDSA && keyType == EVP_PKEY_EC &&
      sig.signature.ecdsa.hash == TPM2_ALG_SHA256) {
    LANYARD_TRY(signature, ecdsaDer(sig.signature.ecdsa));
  } else if (sig.sigAlg == TPM2_ALG_RSASSA && keyType == EVP_PKEY_RSA &&
             sig.signature.rsassa.hash == TPM2_ALG_SHA256) {
    signature = bytesOf(sig.signature.rsassa.sig.buffer, sig.signature.rsassa.sig.size);
  } else {
    return denied("signature algorithm " + std::to_string(sig.sigAlg) +
                  " is not SHA-256 ECDSA or RSASSA with the attestation key's type");
  }
  ossl::UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, ak) != 1) {
    return ossl::fail("verifying the TPM quote's signature");
  }
  int ok = EVP_DigestVerify(
      md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(quote.attest.data()), quote.attest.size());
  ERR_clear_error();
  if (ok != 1) {
    return denied("the signature does not verify with the attestation key");
  }
  return {};
}

}  // namespace lanyard::attestors::tpm
