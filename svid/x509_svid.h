// SPDX-License-Identifier: Apache-2.0
// X.509-SVID minting (X509SvidIssuer), parsing (X509-10) and verification (X509-8, X509-9).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/openssl.h"
#include "common/result.h"
#include "svid/bundle.h"
#include "svid/key.h"
#include "svid/leaf_template.h"
#include "svid/spiffe_id.h"

namespace lanyard::svid {

/// An X.509-SVID: its chain as back-to-back DER (leaf first, then intermediates toward the
/// root, never the root itself: X509-13; the Workload API `x509_svid` field, WAPI-10) and its
/// private key. Kept as DER because that is what is served; certificates() parses on demand
/// (~0.3 ms a certificate in OpenSSL 3.0). Move-only.
struct X509Svid {
  SpiffeId id;
  std::string der;
  ossl::UniquePtr<EVP_PKEY> key;
  /// `key` as unencrypted PKCS#8 DER: the Workload API `x509_svid_key` (WAPI-10).
  SecretBytes keyDer;
  SysTime notBefore;
  SysTime notAfter;

  const std::string& chainDer() const { return der; }
  /// The chain parsed into certificates, leaf first.
  Result<std::vector<ossl::UniquePtr<X509>>> certificates() const;
  /// PEM certificates, leaf first (svid.0.pem).
  Result<std::string> chainPem() const;
};

/// What to put in one leaf.
struct X509SvidParams {
  std::vector<std::string> dnsNames;
  Seconds ttl{3600};
  KeyType keyType = KeyType::EcP256;
};

/// Mints leaves for one signing CA. Everything that is the same for every leaf (issuer DN,
/// AKI, basic constraints, key usage, EKU) is encoded once at creation. Immutable and
/// thread-safe after create().
class X509SvidIssuer {
 public:
  /// `ca` signs the leaves with `caKey`; `intermediates` (may be empty) are the certificates
  /// between `ca` and the bundle's root; the chain served is leaf, then `ca` unless it is
  /// self-signed, then `intermediates`. FailedPrecondition if `ca` is not a CA for `caKey`.
  static Result<std::unique_ptr<X509SvidIssuer>> create(
      ossl::UniquePtr<X509> ca, ossl::UniquePtr<EVP_PKEY> caKey,
      std::vector<ossl::UniquePtr<X509>> intermediates);

  /// Mints a leaf for `id` (X509-1 … X509-5, X509-11, X509-12): one URI SAN plus DNS SANs
  /// (InvalidArgument for a DNS name that is empty, longer than 253 bytes or not [A-Za-z0-9.*_-]),
  /// subject C=US O=SPIFFE, critical basicConstraints cA=FALSE, critical keyUsage
  /// digitalSignature|keyEncipherment|keyAgreement, EKU serverAuth+clientAuth, SKI, AKI =
  /// CA SKI, random positive serial, notBefore 10 s in the past (not before the CA's),
  /// notAfter = now + ttl capped at the CA's notAfter. InvalidArgument for a root ID (X509-2)
  /// or a foreign trust domain; FailedPrecondition when the CA has expired.
  Result<X509Svid> mint(const SpiffeId& id, const X509SvidParams& params, SysTime now) const;

  X509* caCertificate() const { return ca_.get(); }
  SysTime caNotAfter() const { return caNotAfter_; }
  const TrustDomain& trustDomain() const { return td_; }

 private:
  X509SvidIssuer(TrustDomain td, LeafTemplate leaf) : td_(std::move(td)), leaf_(std::move(leaf)) {}
  TrustDomain td_;
  LeafTemplate leaf_;
  ossl::UniquePtr<X509> ca_;
  std::string chainTail_;  // DER of the certificates after the leaf
  SysTime caNotBefore_;
  SysTime caNotAfter_;
};

/// The SPIFFE ID in a certificate's single URI SAN. InvalidArgument when there is no URI SAN,
/// more than one (X509-1), or it is not a valid SPIFFE ID.
Result<SpiffeId> spiffeIdFromCertificate(X509* cert);

/// go-spiffe ParseRaw (X509-10): `chainDer` back-to-back DER, leaf first; `keyDer`
/// unencrypted PKCS#8. Checks the leaf's ID (non-root path), cA=FALSE, digitalSignature,
/// no keyCertSign/cRLSign, each later certificate cA=TRUE with keyCertSign, and that the key
/// matches the leaf. InvalidArgument naming the failed check.
Result<X509Svid> parseX509Svid(std::string_view chainDer, std::string_view keyDer);

/// Peer verification (X509-8, X509-9): RFC 5280 path validation of `chain` (leaf first) at
/// `now` against only the bundle of the leaf's trust domain, then the leaf checks. Returns the
/// leaf's SPIFFE ID. PermissionDenied when no bundle exists for the trust domain;
/// InvalidArgument for every other failure.
Result<SpiffeId> verifyX509Svid(const std::vector<X509*>& chain, const BundleMap& bundles,
                                SysTime now);
/// The same for a chain of back-to-back DER certificates (the Workload API encoding).
Result<SpiffeId> verifyX509Svid(std::string_view chainDer, const BundleMap& bundles, SysTime now);

}  // namespace lanyard::svid
