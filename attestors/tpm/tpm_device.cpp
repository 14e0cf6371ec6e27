// SPDX-License-Identifier: Apache-2.0
// TpmDevice over tss2 ESYS: EK public area, NV certificate, AK under the EK, quote, PCR read.
#include "attestors/tpm/tpm_device.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

namespace lanyard::attestors::tpm {
namespace {

// The EK's authorization policy, TPM2_PolicySecret(TPM_RH_ENDORSEMENT): "policy A" of the
// TCG EK Credential Profile 2.0 §B.3.3, the same for every EK template.
constexpr std::array<uint8_t, 32> kEkPolicyA = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
    0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

constexpr TPMA_OBJECT kEkAttributes =
    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
    TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;

// Template L-1: RSA 2048, AES-128-CFB, SHA-256 (TCG EK Credential Profile 2.0 §B.3.3).
TPM2B_PUBLIC ekTemplate() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_RSA;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = kEkAttributes;
  t.publicArea.authPolicy.size = kEkPolicyA.size();
  std::memcpy(t.publicArea.authPolicy.buffer, kEkPolicyA.data(), kEkPolicyA.size());
  auto& rsa = t.publicArea.parameters.rsaDetail;
  rsa.symmetric.algorithm = TPM2_ALG_AES;
  rsa.symmetric.keyBits.aes = 128;
  rsa.symmetric.mode.aes = TPM2_ALG_CFB;
  rsa.scheme.scheme = TPM2_ALG_NULL;
  rsa.keyBits = 2048;
  rsa.exponent = 0;
  t.publicArea.unique.rsa.size = 256;  // zeros
  return t;
}

// A restricted signing key: it signs only TPM-generated structures (quotes), so a signature
// by it proves the TPM made what it signed.
TPM2B_PUBLIC akTemplate() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                  TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

// An object at the EK handle is believed to be an EK only when it has an EK's attributes and
// policy: anything else an owner might have put there is refused.
bool looksLikeEk(const TPMT_PUBLIC& p) {
  return (p.type == TPM2_ALG_RSA || p.type == TPM2_ALG_ECC) &&
         (p.objectAttributes &
          (kEkAttributes | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT)) == kEkAttributes &&
         p.authPolicy.size == kEkPolicyA.size() &&
         std::memcmp(p.authPolicy.buffer, kEkPolicyA.data(), kEkPolicyA.size()) == 0;
}

Unexpected tpmFail(const std::string& doing, TSS2_RC rc, Code code = Code::Unavailable) {
  return fail(code, doing + ": " + Tss2_RC_Decode(rc));
}

template <typename T>
struct EsysFree {
  void operator()(T* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFree<T>>;

Result<std::string> marshalPublic(const TPMT_PUBLIC& pub) {
  std::array<uint8_t, sizeof(TPMT_PUBLIC)> buf{};
  size_t offset = 0;
  if (TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf.data(), buf.size(), &offset);
      rc != TSS2_RC_SUCCESS) {
    return tpmFail("marshalling a TPM public area", rc, Code::Internal);
  }
  return std::string(reinterpret_cast<const char*>(buf.data()), offset);
}

}  // namespace

struct TpmDevice::Impl {
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  ESYS_CONTEXT* esys = nullptr;

  ~Impl() {
    if (esys != nullptr) {
      Esys_Finalize(&esys);
    }
    if (tcti != nullptr) {
      Tss2_TctiLdr_Finalize(&tcti);
    }
  }

  // Flushes a transient object or session; the handle is unusable afterwards either way.
  void flush(ESYS_TR& tr) {
    if (tr != ESYS_TR_NONE) {
      (void)Esys_FlushContext(esys, tr);
      tr = ESYS_TR_NONE;
    }
  }

  // A policy session satisfied by TPM2_PolicySecret(endorsement): what using the EK as a
  // parent needs (its userWithAuth is clear). The caller flushes it.
  Result<ESYS_TR> ekSession() {
    TPMT_SYM_DEF sym{};
    sym.algorithm = TPM2_ALG_AES;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
    ESYS_TR session = ESYS_TR_NONE;
    if (TSS2_RC rc = Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_POLICY,
                                           &sym, TPM2_ALG_SHA256, &session);
        rc != TSS2_RC_SUCCESS) {
      return tpmFail("starting a policy session for the EK", rc);
    }
    TPM2B_TIMEOUT* timeout = nullptr;
    TPMT_TK_AUTH* ticket = nullptr;
    TSS2_RC rc =
        Esys_PolicySecret(esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                          ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, &timeout, &ticket);
    Esys_Free(timeout);
    Esys_Free(ticket);
    if (rc != TSS2_RC_SUCCESS) {
      flush(session);
      return tpmFail("TPM2_PolicySecret(endorsement) for the EK", rc);
    }
    return session;
  }

  // The EK as a loaded object: the persistent one (not to be flushed; `transient` false) or
  // a primary made from the template (flushed by the caller; `transient` true).
  Result<std::pair<ESYS_TR, bool>> loadEk(uint32_t ekHandle, TPM2B_PUBLIC** pubOut) {
    ESYS_TR ek = ESYS_TR_NONE;
    if (Esys_TR_FromTPMPublic(esys, ekHandle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ek) ==
        TSS2_RC_SUCCESS) {
      TPM2B_PUBLIC* pub = nullptr;
      TPM2B_NAME* name = nullptr;
      TPM2B_NAME* qualified = nullptr;
      TSS2_RC rc = Esys_ReadPublic(esys, ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name,
                                   &qualified);
      Esys_Free(name);
      Esys_Free(qualified);
      if (rc != TSS2_RC_SUCCESS) {
        return tpmFail("reading the EK at handle " + handleText(ekHandle), rc);
      }
      if (!looksLikeEk(pub->publicArea)) {
        Esys_Free(pub);
        return fail(Code::PermissionDenied,
                    "the object at handle " + handleText(ekHandle) +
                        " is not an endorsement key (attributes or policy differ)");
      }
      *pubOut = pub;
      return std::pair{ek, false};
    }
    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_PUBLIC templ = ekTemplate();
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION creationPcr{};
    TPM2B_CREATION_DATA* creationData = nullptr;
    TPM2B_DIGEST* creationHash = nullptr;
    TPMT_TK_CREATION* ticket = nullptr;
    TSS2_RC rc = Esys_CreatePrimary(esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sensitive, &templ, &outside, &creationPcr, &ek,
                                    pubOut, &creationData, &creationHash, &ticket);
    Esys_Free(creationData);
    Esys_Free(creationHash);
    Esys_Free(ticket);
    if (rc != TSS2_RC_SUCCESS) {
      return tpmFail("creating the EK from the default RSA template (no EK at handle " +
                         handleText(ekHandle) + ")",
                     rc);
    }
    return std::pair{ek, true};
  }

  static std::string handleText(uint32_t h) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "0x%08x", h);
    return buf;
  }
};

TpmDevice::TpmDevice(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TpmDevice::~TpmDevice() = default;

Result<std::unique_ptr<TpmDevice>> TpmDevice::open(const std::string& tcti) {
  // tss2 logs its own errors to stderr unless told otherwise; ours say the same with context,
  // on the daemon's logger. An operator's own TSS2_LOG wins (docs/tpm.md).
  ::setenv("TSS2_LOG", "all+NONE", /*overwrite=*/0);
  auto impl = std::make_unique<Impl>();
  if (TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &impl->tcti); rc != TSS2_RC_SUCCESS) {
    return tpmFail("opening the TPM through TCTI \"" + tcti + "\"", rc);
  }
  if (TSS2_RC rc = Esys_Initialize(&impl->esys, impl->tcti, nullptr); rc != TSS2_RC_SUCCESS) {
    return tpmFail("initialising ESYS on TCTI \"" + tcti + "\"", rc);
  }
  return std::unique_ptr<TpmDevice>(new TpmDevice(std::move(impl)));
}

Result<std::string> TpmDevice::ekPublic(uint32_t ekHandle) {
  TPM2B_PUBLIC* raw = nullptr;
  LANYARD_TRY(auto ek, impl_->loadEk(ekHandle, &raw));
  EsysPtr<TPM2B_PUBLIC> pub(raw);
  if (ek.second) {
    impl_->flush(ek.first);
  }
  return marshalPublic(pub->publicArea);
}

Result<std::string> TpmDevice::readNvCertificate(uint32_t index) {
  const std::string doing = "reading the EK certificate in NV index " + Impl::handleText(index);
  ESYS_TR nv = ESYS_TR_NONE;
  if (Esys_TR_FromTPMPublic(impl_->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) !=
      TSS2_RC_SUCCESS) {
    return fail(Code::NotFound, doing + ": the index is not defined");
  }
  TPM2B_NV_PUBLIC* rawPub = nullptr;
  TPM2B_NAME* name = nullptr;
  TSS2_RC rc =
      Esys_NV_ReadPublic(impl_->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &rawPub, &name);
  Esys_Free(name);
  EsysPtr<TPM2B_NV_PUBLIC> pub(rawPub);
  if (rc != TSS2_RC_SUCCESS) {
    return tpmFail(doing, rc);
  }
  const uint16_t size = pub->nvPublic.dataSize;
  std::string out;
  out.reserve(size);
  // NV reads are bounded by the TPM's NV buffer (at least 512 bytes on every TPM 2.0).
  constexpr uint16_t kChunk = 512;
  while (out.size() < size) {
    const auto want = static_cast<uint16_t>(std::min<size_t>(kChunk, size - out.size()));
    TPM2B_MAX_NV_BUFFER* raw = nullptr;
    rc = Esys_NV_Read(impl_->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, want,
                      static_cast<uint16_t>(out.size()), &raw);
    EsysPtr<TPM2B_MAX_NV_BUFFER> data(raw);
    if (rc != TSS2_RC_SUCCESS) {
      return tpmFail(doing, rc);
    }
    if (data->size == 0) {
      return fail(Code::DataLoss, doing + ": the TPM returned no data");
    }
    out.append(reinterpret_cast<const char*>(data->buffer), data->size);
  }
  return out;
}

Result<TpmDevice::AkQuote> TpmDevice::quote(uint32_t ekHandle, const std::vector<uint32_t>& pcrs,
                                            const std::string& nonce) {
  TPM2B_PUBLIC* rawEkPub = nullptr;
  LANYARD_TRY(auto ek, impl_->loadEk(ekHandle, &rawEkPub));
  EsysPtr<TPM2B_PUBLIC> ekPub(rawEkPub);
  ESYS_TR ekTr = ek.first;
  ESYS_TR ak = ESYS_TR_NONE;
  ESYS_TR session = ESYS_TR_NONE;
  // Everything transient goes when this returns, whichever way.
  struct Cleanup {
    Impl& impl;
    ESYS_TR& ek;
    bool ekTransient;
    ESYS_TR& ak;
    ESYS_TR& session;
    ~Cleanup() {
      impl.flush(session);
      impl.flush(ak);
      if (ekTransient) {
        impl.flush(ek);
      }
    }
  } cleanup{*impl_, ekTr, ek.second, ak, session};

  LANYARD_TRY(session, impl_->ekSession());
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC templ = akTemplate();
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION creationPcr{};
  TPM2B_PRIVATE* rawPriv = nullptr;
  TPM2B_PUBLIC* rawPub = nullptr;
  TPM2B_CREATION_DATA* creationData = nullptr;
  TPM2B_DIGEST* creationHash = nullptr;
  TPMT_TK_CREATION* creationTicket = nullptr;
  TSS2_RC rc = Esys_Create(impl_->esys, ekTr, session, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                           &templ, &outside, &creationPcr, &rawPriv, &rawPub, &creationData,
                           &creationHash, &creationTicket);
  EsysPtr<TPM2B_PRIVATE> akPriv(rawPriv);
  EsysPtr<TPM2B_PUBLIC> akPub(rawPub);
  Esys_Free(creationData);
  Esys_Free(creationHash);
  Esys_Free(creationTicket);
  impl_->flush(session);
  if (rc != TSS2_RC_SUCCESS) {
    return tpmFail("creating the attestation key under the EK", rc);
  }
  LANYARD_TRY(session, impl_->ekSession());
  rc = Esys_Load(impl_->esys, ekTr, session, ESYS_TR_NONE, ESYS_TR_NONE, akPriv.get(), akPub.get(),
                 &ak);
  impl_->flush(session);
  if (rc != TSS2_RC_SUCCESS) {
    return tpmFail("loading the attestation key", rc);
  }

  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof(qualifying.buffer)) {
    return fail(Code::InvalidArgument, "quote nonce longer than the TPM accepts");
  }
  qualifying.size = static_cast<uint16_t>(nonce.size());
  std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the AK's own: ECDSA with SHA-256
  TPML_PCR_SELECTION sel{};
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  for (uint32_t i : pcrs) {
    sel.pcrSelections[0].pcrSelect[i / 8] |= static_cast<uint8_t>(1U << (i % 8));
  }
  TPM2B_ATTEST* rawAttest = nullptr;
  TPMT_SIGNATURE* rawSig = nullptr;
  rc = Esys_Quote(impl_->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying,
                  &scheme, &sel, &rawAttest, &rawSig);
  EsysPtr<TPM2B_ATTEST> attest(rawAttest);
  EsysPtr<TPMT_SIGNATURE> sig(rawSig);
  if (rc != TSS2_RC_SUCCESS) {
    return tpmFail("quoting the PCRs", rc);
  }
  AkQuote out;
  LANYARD_TRY(out.akPublic, marshalPublic(akPub->publicArea));
  out.quote.attest.assign(reinterpret_cast<const char*>(attest->attestationData), attest->size);
  std::array<uint8_t, sizeof(TPMT_SIGNATURE)> buf{};
  size_t offset = 0;
  if (rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig.get(), buf.data(), buf.size(), &offset);
      rc != TSS2_RC_SUCCESS) {
    return tpmFail("marshalling the quote's signature", rc, Code::Internal);
  }
  out.quote.signature.assign(reinterpret_cast<const char*>(buf.data()), offset);
  return out;
}

Result<PcrValues> TpmDevice::readPcrs(const std::vector<uint32_t>& pcrs) {
  PcrValues out;
  std::vector<uint32_t> remaining = pcrs;
  std::sort(remaining.begin(), remaining.end());
  std::vector<std::pair<uint32_t, std::string>> got;
  while (!remaining.empty()) {
    TPML_PCR_SELECTION sel{};
    sel.count = 1;
    sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel.pcrSelections[0].sizeofSelect = 3;
    for (uint32_t i : remaining) {
      sel.pcrSelections[0].pcrSelect[i / 8] |= static_cast<uint8_t>(1U << (i % 8));
    }
    UINT32 counter = 0;
    TPML_PCR_SELECTION* rawSelOut = nullptr;
    TPML_DIGEST* rawValues = nullptr;
    TSS2_RC rc = Esys_PCR_Read(impl_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
                               &counter, &rawSelOut, &rawValues);
    EsysPtr<TPML_PCR_SELECTION> selOut(rawSelOut);
    EsysPtr<TPML_DIGEST> values(rawValues);
    if (rc != TSS2_RC_SUCCESS) {
      return tpmFail("reading the SHA-256 PCRs", rc);
    }
    // The digests come in the order of the returned selection's set bits.
    std::vector<uint32_t> returned;
    for (uint32_t i : remaining) {
      if (selOut->count == 1 && (selOut->pcrSelections[0].pcrSelect[i / 8] >> (i % 8)) & 1U) {
        returned.push_back(i);
      }
    }
    if (returned.empty() || returned.size() != values->count) {
      return fail(Code::Unavailable,
                  "reading the SHA-256 PCRs: the TPM has no SHA-256 bank with PCR " +
                      std::to_string(remaining.front()));
    }
    for (size_t k = 0; k < returned.size(); ++k) {
      got.emplace_back(returned[k],
                       std::string(reinterpret_cast<const char*>(values->digests[k].buffer),
                                   values->digests[k].size));
      remaining.erase(std::find(remaining.begin(), remaining.end(), returned[k]));
    }
  }
  std::sort(got.begin(), got.end());
  for (auto& [index, value] : got) {
    out.indexes.push_back(index);
    out.values.push_back(std::move(value));
  }
  return out;
}

}  // namespace lanyard::attestors::tpm
