// SPDX-License-Identifier: Apache-2.0
// TpmSigningKey over tss2 ESYS: create under the SRK, wrap, reload, sign digests.
#include "svid/tpm_key.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "common/file_io.h"
#include "common/log.h"

namespace lanyard::svid {
namespace {

Unexpected tpmFail(const std::string& doing, TSS2_RC rc, Code code = Code::Unavailable) {
  return fail(code, doing + ": " + Tss2_RC_Decode(rc));
}

// The ECC P-256 storage root key of the TCG TPM v2.0 Provisioning Guidance (§7.5.1): derived
// from the owner seed, so the same key every time it is created.
TPM2B_PUBLIC srkTemplate() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                  TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  t.publicArea.unique.ecc.x.size = 32;
  t.publicArea.unique.ecc.y.size = 32;
  return t;
}

// The CA key: signs anything (not restricted), and can never leave this TPM.
constexpr TPMA_OBJECT kKeyAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                       TPMA_OBJECT_SIGN_ENCRYPT;

TPM2B_PUBLIC keyTemplate() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = kKeyAttributes;
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

// One TPM connection with the SRK loaded; closes (and flushes what it loaded) when destroyed.
class Session {
 public:
  static Result<std::unique_ptr<Session>> open(const std::string& tcti) {
    // tss2 logs its own errors to stderr unless told otherwise; ours carry the context.
    ::setenv("TSS2_LOG", "all+NONE", /*overwrite=*/0);
    std::unique_ptr<Session> s(new Session);
    if (TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &s->tcti_); rc != TSS2_RC_SUCCESS) {
      return tpmFail("opening the TPM through TCTI \"" + tcti + "\"", rc);
    }
    if (TSS2_RC rc = Esys_Initialize(&s->esys_, s->tcti_, nullptr); rc != TSS2_RC_SUCCESS) {
      return tpmFail("initialising ESYS on TCTI \"" + tcti + "\"", rc);
    }
    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_PUBLIC templ = srkTemplate();
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PUBLIC* pub = nullptr;
    TPM2B_CREATION_DATA* data = nullptr;
    TPM2B_DIGEST* hash = nullptr;
    TPMT_TK_CREATION* ticket = nullptr;
    TSS2_RC rc = Esys_CreatePrimary(s->esys_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sensitive, &templ, &outside, &pcrs, &s->srk_,
                                    &pub, &data, &hash, &ticket);
    Esys_Free(pub);
    Esys_Free(data);
    Esys_Free(hash);
    Esys_Free(ticket);
    if (rc != TSS2_RC_SUCCESS) {
      return tpmFail("creating the storage root key (owner hierarchy)", rc);
    }
    return s;
  }

  ~Session() {
    flush(key_);
    flush(srk_);
    if (esys_ != nullptr) {
      Esys_Finalize(&esys_);
    }
    if (tcti_ != nullptr) {
      Tss2_TctiLdr_Finalize(&tcti_);
    }
  }

  ESYS_CONTEXT* esys() { return esys_; }
  ESYS_TR srk() const { return srk_; }
  ESYS_TR& key() { return key_; }

 private:
  Session() = default;
  void flush(ESYS_TR& tr) {
    if (tr != ESYS_TR_NONE) {
      (void)Esys_FlushContext(esys_, tr);
      tr = ESYS_TR_NONE;
    }
  }

  TSS2_TCTI_CONTEXT* tcti_ = nullptr;
  ESYS_CONTEXT* esys_ = nullptr;
  ESYS_TR srk_ = ESYS_TR_NONE;
  ESYS_TR key_ = ESYS_TR_NONE;
};

struct Blob {
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
};

Result<std::string> marshal(const Blob& b) {
  std::array<uint8_t, sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE)> buf{};
  size_t off = 0;
  if (TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&b.pub, buf.data(), buf.size(), &off);
      rc != TSS2_RC_SUCCESS) {
    return tpmFail("encoding the TPM key blob", rc, Code::Internal);
  }
  if (TSS2_RC rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&b.priv, buf.data(), buf.size(), &off);
      rc != TSS2_RC_SUCCESS) {
    return tpmFail("encoding the TPM key blob", rc, Code::Internal);
  }
  return std::string(reinterpret_cast<const char*>(buf.data()), off);
}

Result<Blob> unmarshal(std::string_view bytes, const std::string& path) {
  Blob b;
  size_t off = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, bytes.size(), &off, &b.pub) != TSS2_RC_SUCCESS ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, bytes.size(), &off, &b.priv) != TSS2_RC_SUCCESS ||
      off != bytes.size()) {
    return fail(Code::FailedPrecondition, "reading the TPM key blob " + path +
                                              ": not a marshalled TPM2B_PUBLIC and TPM2B_PRIVATE");
  }
  const TPMT_PUBLIC& a = b.pub.publicArea;
  if (a.type != TPM2_ALG_ECC || a.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
      a.objectAttributes != kKeyAttributes) {
    return fail(Code::FailedPrecondition,
                "reading the TPM key blob " + path +
                    ": not a non-exportable ECDSA P-256 signing key (fixedTPM, fixedParent)");
  }
  return b;
}

Result<ossl::UniquePtr<EVP_PKEY>> publicOf(const TPMT_PUBLIC& a) {
  const auto& x = a.unique.ecc.x;
  const auto& y = a.unique.ecc.y;
  if (x.size == 0 || y.size == 0 || x.size > 32 || y.size > 32) {
    return fail(Code::FailedPrecondition, "the TPM key's public point has the wrong size");
  }
  std::string point(65, '\0');
  point[0] = 0x04;
  std::memcpy(point.data() + 1 + 32 - x.size, x.buffer, x.size);
  std::memcpy(point.data() + 1 + 64 - y.size, y.buffer, y.size);
  ossl::UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return ossl::fail("reading the TPM key's public key");
  }
  ossl::UniquePtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  ossl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return ossl::fail("reading the TPM key's public key");
  }
  return ossl::UniquePtr<EVP_PKEY>(raw);
}

Result<Blob> createKey(const std::string& tcti) {
  LANYARD_TRY(auto s, Session::open(tcti));
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC templ = keyTemplate();
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  TPM2B_PRIVATE* priv = nullptr;
  TPM2B_PUBLIC* pub = nullptr;
  TPM2B_CREATION_DATA* data = nullptr;
  TPM2B_DIGEST* hash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  TSS2_RC rc = Esys_Create(s->esys(), s->srk(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &sensitive, &templ, &outside, &pcrs, &priv, &pub, &data, &hash, &ticket);
  Blob b;
  if (rc == TSS2_RC_SUCCESS) {
    b.priv = *priv;
    b.pub = *pub;
  }
  Esys_Free(priv);
  Esys_Free(pub);
  Esys_Free(data);
  Esys_Free(hash);
  Esys_Free(ticket);
  if (rc != TSS2_RC_SUCCESS) {
    return tpmFail("creating the CA key in the TPM", rc);
  }
  return b;
}

}  // namespace

Result<std::unique_ptr<TpmSigningKey>> TpmSigningKey::loadOrCreate(const std::string& tcti,
                                                                   const std::string& blobPath) {
  std::string bytes;
  if (fileio::exists(blobPath)) {
    LANYARD_TRY(bytes, fileio::readSecret(blobPath));
  } else {
    LANYARD_TRY(Blob made, createKey(tcti));
    LANYARD_TRY(bytes, marshal(made));
    if (auto written = fileio::writeAtomic(blobPath, bytes, 0600); !written) {
      return fail(written.error().wrap("writing the TPM key blob " + blobPath));
    }
    log::get("svid")->info("created the CA key in the TPM; its TPM-wrapped blob is {}", blobPath);
  }
  LANYARD_TRY(Blob blob, unmarshal(bytes, blobPath));
  LANYARD_TRY(auto pub, publicOf(blob.pub.publicArea));
  std::unique_ptr<TpmSigningKey> key(new TpmSigningKey(tcti, std::move(bytes), std::move(pub)));
  // Prove now that this TPM holds the key: a blob from another TPM, or from before the owner
  // hierarchy was cleared, fails to load (its SRK is gone).
  const std::string probe = "lanyard TPM key check";
  LANYARD_TRY(std::string sig, key->sign(probe));
  ossl::UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  if (!md ||
      EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key->publicKey()) != 1 ||
      EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(probe.data()), probe.size()) != 1) {
    ERR_clear_error();
    return fail(Code::FailedPrecondition,
                "the TPM's signature does not verify with the public key in " + blobPath);
  }
  return key;
}

Result<std::string> TpmSigningKey::sign(std::string_view data) const {
  LANYARD_TRY(Blob blob, unmarshal(blob_, "(loaded)"));
  LANYARD_TRY(auto s, Session::open(tcti_));
  if (TSS2_RC rc = Esys_Load(s->esys(), s->srk(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &blob.priv, &blob.pub, &s->key());
      rc != TSS2_RC_SUCCESS) {
    return tpmFail("loading the CA key into the TPM (is this the TPM that created it?)", rc,
                   Code::FailedPrecondition);
  }
  TPM2B_DIGEST digest{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.buffer, &len, EVP_sha256(), nullptr) != 1) {
    return ossl::fail("hashing what the TPM signs");
  }
  digest.size = static_cast<uint16_t>(len);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  TPMT_TK_HASHCHECK validation{};
  validation.tag = TPM2_ST_HASHCHECK;
  validation.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  TSS2_RC rc = Esys_Sign(s->esys(), s->key(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                         &scheme, &validation, &sig);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_Free(sig);
    return tpmFail("signing with the CA key in the TPM", rc);
  }
  const auto& ecdsa = sig->signature.ecdsa;
  BIGNUM* r = BN_bin2bn(ecdsa.signatureR.buffer, ecdsa.signatureR.size, nullptr);
  BIGNUM* sv = BN_bin2bn(ecdsa.signatureS.buffer, ecdsa.signatureS.size, nullptr);
  Esys_Free(sig);
  ossl::UniquePtr<ECDSA_SIG> es(ECDSA_SIG_new());
  if (!es || !r || !sv || ECDSA_SIG_set0(es.get(), r, sv) != 1) {
    BN_free(r);
    BN_free(sv);
    return ossl::fail("encoding the TPM's signature");
  }
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(es.get(), &der);
  if (n <= 0) {
    return ossl::fail("encoding the TPM's signature");
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

}  // namespace lanyard::svid
