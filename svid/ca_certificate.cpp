// SPDX-License-Identifier: Apache-2.0
// CA certificate minting for self-signed roots and daemon intermediates.
#include "svid/ca_certificate.h"

#include <algorithm>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "svid/der_writer.h"
#include "svid/key.h"
#include "svid/x509_fields.h"

namespace lanyard::svid {

namespace {

// Everything but the signature.
Result<ossl::UniquePtr<X509>> unsignedCa(const CaCertParams& params, EVP_PKEY* subjectKey,
                                         X509* issuer) {
  namespace f = x509fields;
  ossl::UniquePtr<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return ossl::fail("creating CA certificate");
  }
  LANYARD_TRY_VOID(f::setRandomSerial(cert.get()));
  LANYARD_TRY(auto subject, f::makeName({{"C", "US"}, {"O", "SPIFFE"}, {"CN", params.commonName}}));
  if (X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(
          cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject.get()) != 1) {
    return ossl::fail("setting CA certificate names");
  }
  SysTime notAfter = params.notAfter;
  if (issuer != nullptr) {
    notAfter = std::min(notAfter, f::notAfter(issuer));
  }
  if (notAfter <= params.notBefore) {
    return fail(Code::FailedPrecondition,
                "minting CA certificate: the issuing CA expires before the new CA would start");
  }
  LANYARD_TRY_VOID(f::setValidity(cert.get(), params.notBefore, notAfter));
  LANYARD_TRY(std::string spk, f::setPublicKey(cert.get(), subjectKey));
  LANYARD_TRY(std::string ski, f::keyIdentifier(spk));
  std::string aki = ski;
  if (issuer != nullptr) {
    LANYARD_TRY(aki, f::authorityKeyIdFor(issuer));
  }
  LANYARD_TRY(auto bc, f::basicConstraints(true, params.pathLen));
  LANYARD_TRY(auto ku, f::keyUsage(KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));
  LANYARD_TRY(auto skiExt, f::subjectKeyId(ski));
  LANYARD_TRY(auto akiExt, f::authorityKeyId(aki));
  LANYARD_TRY(auto san, f::subjectAltNames(params.trustDomain.idString(), {}, false));
  for (X509_EXTENSION* ext : {bc.get(), ku.get(), skiExt.get(), akiExt.get(), san.get()}) {
    LANYARD_TRY_VOID(f::addExtension(cert.get(), ext));
  }
  return cert;
}

std::string derOf(int len, unsigned char* der) {
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// Certificate and CertificationRequest alike: SEQUENCE { to-be-signed, AlgorithmIdentifier,
// BIT STRING signature }, the signature made by `signer` over `tbs`.
Result<std::string> externallySigned(const std::string& tbs, const X509_ALGOR* alg,
                                     const ExternalSigner& signer) {
  unsigned char* raw = nullptr;
  int len = i2d_X509_ALGOR(alg, &raw);
  if (len <= 0) {
    return ossl::fail("encoding the signature algorithm");
  }
  const std::string algDer = derOf(len, raw);
  LANYARD_TRY(std::string sig, signer(tbs));
  std::string body = tbs + algDer + der::tlv(der::kBitString, std::string(1, '\0') + sig);
  return der::tlv(der::kSequence, body);
}

}  // namespace

Result<ossl::UniquePtr<X509>> makeCaCertificate(const CaCertParams& params, EVP_PKEY* subjectKey,
                                                X509* issuer, EVP_PKEY* issuerKey) {
  LANYARD_TRY(auto cert, unsignedCa(params, subjectKey, issuer));
  return x509fields::signAndReparse(cert.get(), issuerKey);
}

Result<ossl::UniquePtr<X509>> makeCaCertificate(const CaCertParams& params, EVP_PKEY* subjectKey,
                                                X509* issuer, EVP_PKEY* issuerPublic,
                                                const ExternalSigner& signer) {
  LANYARD_TRY(auto cert, unsignedCa(params, subjectKey, issuer));
  // A throwaway key of the signer's algorithm fills in both signature AlgorithmIdentifiers;
  // its signature is then replaced by the signer's over the same TBSCertificate.
  LANYARD_TRY(auto stand, generateKey(KeyType::EcP256));
  LANYARD_TRY_VOID(x509fields::sign(cert.get(), stand.get()));
  unsigned char* raw = nullptr;
  int len = i2d_re_X509_tbs(cert.get(), &raw);
  if (len <= 0) {
    return ossl::fail("encoding the CA certificate's TBSCertificate");
  }
  const std::string tbs = derOf(len, raw);
  const ASN1_BIT_STRING* oldSig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(&oldSig, &alg, cert.get());
  auto certDerResult = externallySigned(tbs, alg, signer);
  if (!certDerResult) {
    return fail(certDerResult.error().wrap("signing the CA certificate"));
  }
  const std::string certDer = std::move(*certDerResult);
  const auto* p = reinterpret_cast<const unsigned char*>(certDer.data());
  ossl::UniquePtr<X509> signedCert(d2i_X509(nullptr, &p, static_cast<long>(certDer.size())));
  if (!signedCert) {
    return ossl::fail("re-reading the externally signed CA certificate");
  }
  if (X509_verify(signedCert.get(), issuerPublic) != 1) {
    ERR_clear_error();
    return fail(Code::FailedPrecondition,
                "minting CA certificate: the external signer's signature does not verify with "
                "its public key");
  }
  return signedCert;
}

Result<std::string> makeCaRequestPem(const TrustDomain& td, const std::string& commonName,
                                     EVP_PKEY* publicKey, const ExternalSigner& signer) {
  namespace f = x509fields;
  ossl::UniquePtr<X509_REQ> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) {
    return ossl::fail("creating the certificate request");
  }
  LANYARD_TRY(auto subject, f::makeName({{"C", "US"}, {"O", "SPIFFE"}, {"CN", commonName}}));
  if (X509_REQ_set_subject_name(req.get(), subject.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), publicKey) != 1) {
    return ossl::fail("setting the certificate request's subject and key");
  }
  LANYARD_TRY(auto bc, f::basicConstraints(true, -1));
  LANYARD_TRY(auto ku, f::keyUsage(KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));
  LANYARD_TRY(auto san, f::subjectAltNames(td.idString(), {}, false));
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  bool added = exts != nullptr;
  for (X509_EXTENSION* ext : {bc.get(), ku.get(), san.get()}) {
    added = added && sk_X509_EXTENSION_push(exts, ext) > 0;
  }
  added = added && X509_REQ_add_extensions(req.get(), exts) == 1;
  sk_X509_EXTENSION_free(exts);  // the extensions themselves are owned above
  if (!added) {
    return ossl::fail("adding the certificate request's extensions");
  }
  // As for certificates: a throwaway key fills in the AlgorithmIdentifier, then the signer's
  // signature over the same CertificationRequestInfo replaces its signature.
  LANYARD_TRY(auto stand, generateKey(KeyType::EcP256));
  if (X509_REQ_sign(req.get(), stand.get(), EVP_sha256()) <= 0) {
    return ossl::fail("preparing the certificate request");
  }
  unsigned char* raw = nullptr;
  int len = i2d_re_X509_REQ_tbs(req.get(), &raw);
  if (len <= 0) {
    return ossl::fail("encoding the CertificationRequestInfo");
  }
  const std::string tbs = derOf(len, raw);
  const ASN1_BIT_STRING* oldSig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_REQ_get0_signature(req.get(), &oldSig, &alg);
  auto reqDer = externallySigned(tbs, alg, signer);
  if (!reqDer) {
    return fail(reqDer.error().wrap("signing the certificate request"));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(reqDer->data());
  ossl::UniquePtr<X509_REQ> signedReq(d2i_X509_REQ(nullptr, &p, static_cast<long>(reqDer->size())));
  if (!signedReq) {
    return ossl::fail("re-reading the signed certificate request");
  }
  if (X509_REQ_verify(signedReq.get(), publicKey) != 1) {
    ERR_clear_error();
    return fail(Code::FailedPrecondition,
                "making the certificate request: the signer's signature does not verify with "
                "its public key");
  }
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), signedReq.get()) != 1) {
    return ossl::fail("encoding the certificate request as PEM");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool isSelfSigned(X509* cert) {
  return X509_check_issued(cert, cert) == X509_V_OK &&
         X509_verify(cert, X509_get0_pubkey(cert)) == 1;
}

bool keyMatchesCertificate(X509* cert, EVP_PKEY* key) {
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  return pub != nullptr && EVP_PKEY_eq(pub, key) == 1;
}

}  // namespace lanyard::svid
