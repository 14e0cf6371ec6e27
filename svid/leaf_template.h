// SPDX-License-Identifier: Apache-2.0
// LeafTemplate: encodes X.509-SVID leaves straight to DER. Everything fixed for one CA
// (issuer, subject, signature algorithm, fixed extensions) is encoded once; per leaf only the
// serial, validity, public key, SKI and SANs are written, then the TBS is signed. This skips
// OpenSSL 3.0's X509 object model, whose per-certificate provider look-ups cost more than the
// signature itself (DESIGN.md §7).
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/openssl.h"
#include "common/result.h"

namespace lanyard::svid {

/// Immutable after create(); encode() is thread-safe.
class LeafTemplate {
 public:
  /// `ca` and `caKey` must match (checked by the caller). `fixedExtensions` are encoded
  /// X509_EXTENSIONs that every leaf carries, in order.
  static Result<LeafTemplate> create(X509* ca, EVP_PKEY* caKey,
                                     const std::vector<X509_EXTENSION*>& fixedExtensions);

  /// A signed leaf certificate in DER: random positive 128-bit serial, the given validity,
  /// `key`'s public half, SKI from it, and a SAN extension with `uri` then `dnsNames`. For a
  /// P-256 key pass its public point (ecPublicPoint()) as `p256Point`; otherwise empty.
  Result<std::string> encode(EVP_PKEY* key, std::string_view p256Point, std::string_view uri,
                             const std::vector<std::string>& dnsNames, SysTime notBefore,
                             SysTime notAfter) const;

 private:
  LeafTemplate() = default;
  Result<std::string> signTbs(const std::string& tbs) const;

  ossl::UniquePtr<EVP_PKEY> caKey_;
  std::string digest_;     // "SHA256" / "SHA384"
  std::string sigAlg_;     // AlgorithmIdentifier DER
  std::string issuer_;     // Name DER (the CA's subject, byte-identical: X509-12)
  std::string subject_;    // Name DER
  std::string fixedExts_;  // concatenated Extension DERs
  std::string akiKeyId_;
};

}  // namespace lanyard::svid
