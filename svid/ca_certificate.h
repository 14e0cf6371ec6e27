// SPDX-License-Identifier: Apache-2.0
// Signing (CA) certificates: self-signed roots and intermediates (X509-* CA column).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/openssl.h"
#include "common/result.h"
#include "svid/spiffe_id.h"

namespace lanyard::svid {

/// What a CA certificate says about itself.
struct CaCertParams {
  TrustDomain trustDomain;
  SysTime notBefore;
  SysTime notAfter;
  /// Distinguishes CA generations in the Subject DN (CN), e.g. "lanyard ca 3".
  std::string commonName;
  /// pathLenConstraint; negative leaves it out (X509-5).
  int pathLen = -1;
};

/// Makes a CA certificate for `subjectKey`: C=US, O=SPIFFE, CN=commonName; critical
/// basicConstraints cA=TRUE (X509-5); critical keyUsage keyCertSign, cRLSign and
/// digitalSignature (X509-4; c-spiffe rejects CAs without digitalSignature); SKI, and AKI =
/// issuer SKI (X509-12); URI SAN spiffe://<td> (ID-8); random positive serial (X509-11).
/// Self-signed when `issuer` is null (then `issuerKey` must be `subjectKey`). The validity
/// is capped at the issuer's notAfter.
Result<ossl::UniquePtr<X509>> makeCaCertificate(const CaCertParams& params, EVP_PKEY* subjectKey,
                                                X509* issuer, EVP_PKEY* issuerKey);

/// A signer whose private key is not an EVP_PKEY in this process (a TPM key): returns the DER
/// ECDSA-Sig-Value over SHA-256 of `tbsDer` (an ECDSA P-256 key).
using ExternalSigner = std::function<Result<std::string>(std::string_view tbsDer)>;

/// As above, signed ecdsa-with-SHA256 by `signer`, whose public key is `issuerPublic` (the
/// subject key too when `issuer` is null: a self-signed root). The signature is verified with
/// `issuerPublic` before the certificate is returned.
Result<ossl::UniquePtr<X509>> makeCaCertificate(const CaCertParams& params, EVP_PKEY* subjectKey,
                                                X509* issuer, EVP_PKEY* issuerPublic,
                                                const ExternalSigner& signer);

/// A PKCS#10 certificate signing request (PEM) for a CA key held by `signer` (public key
/// `publicKey`): subject C=US, O=SPIFFE, CN=commonName, and requested extensions as
/// makeCaCertificate sets them (critical basicConstraints cA=TRUE, critical keyUsage
/// keyCertSign, cRLSign and digitalSignature, URI SAN spiffe://<td>), signed
/// ecdsa-with-SHA256 by `signer` and verified before it is returned. For an operator's CA to
/// make the TPM-resident key an intermediate of the trust domain.
Result<std::string> makeCaRequestPem(const TrustDomain& td, const std::string& commonName,
                                     EVP_PKEY* publicKey, const ExternalSigner& signer);

/// True when the certificate's subject and issuer match and it verifies with its own key.
bool isSelfSigned(X509* cert);

/// True when `key` is the private half of `cert`'s public key.
bool keyMatchesCertificate(X509* cert, EVP_PKEY* key);

}  // namespace lanyard::svid
