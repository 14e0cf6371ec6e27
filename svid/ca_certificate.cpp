// SPDX-License-Identifier: Apache-2.0
// CA certificate minting for self-signed roots and daemon intermediates.
#include "svid/ca_certificate.h"

#include <algorithm>

#include "svid/x509_fields.h"

namespace lanyard::svid {

Result<ossl::UniquePtr<X509>> makeCaCertificate(const CaCertParams& params, EVP_PKEY* subjectKey,
                                                X509* issuer, EVP_PKEY* issuerKey) {
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
  return f::signAndReparse(cert.get(), issuerKey);
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
