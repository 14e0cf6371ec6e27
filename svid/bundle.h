// SPDX-License-Identifier: Apache-2.0
// Bundle: one trust domain's X.509 and JWT authorities, and their encodings (BUNDLE-*).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "svid/spiffe_id.h"

namespace lanyard::svid {

/// A JWT-SVID signing public key and its key ID (BUNDLE-6).
struct JwtAuthority {
  std::string kid;
  ossl::UniquePtr<EVP_PKEY> key;
};

/// The trust bundle of one trust domain (BUNDLE-8: a bundle never names its domain on the wire,
/// so it always travels with its TrustDomain). Built once, then shared read-only as
/// std::shared_ptr<const Bundle>; const members are thread-safe.
class Bundle {
 public:
  explicit Bundle(TrustDomain td) : td_(std::move(td)) {}
  Bundle(Bundle&&) = default;
  Bundle& operator=(Bundle&&) = default;

  const TrustDomain& trustDomain() const { return td_; }

  /// Adds a CA certificate (up-refs it). Duplicates (same DER) are ignored.
  Result<void> addX509Authority(X509* cert);
  /// Adds a JWT signing public key (up-refs it; only the public half is kept in encodings).
  /// InvalidArgument on an empty kid; AlreadyExists on a kid already present (BUNDLE-6).
  Result<void> addJwtAuthority(std::string kid, EVP_PKEY* key);

  const std::vector<ossl::UniquePtr<X509>>& x509Authorities() const { return x509_; }
  const std::vector<JwtAuthority>& jwtAuthorities() const { return jwt_; }
  /// The JWT key with this kid, or nullptr.
  const EVP_PKEY* findJwtAuthority(std::string_view kid) const;

  std::optional<uint64_t> sequence() const { return sequence_; }
  void setSequence(uint64_t seq) { sequence_ = seq; }
  std::optional<int64_t> refreshHintSeconds() const { return refreshHint_; }
  void setRefreshHintSeconds(int64_t s) { refreshHint_ = s; }

  /// Workload API X.509 bundle: the DER certificates back to back (BUNDLE-10).
  std::string x509Der() const;
  /// PEM certificates, for files (`bundle.0.pem`) and the openssl CLI.
  std::string x509Pem() const;
  /// Workload API JWT bundle: {"keys":[…]} with only JWT keys, each with kty, kid and key
  /// members, no `use` and no spiffe_* members, as SPIRE sends (BUNDLE-10).
  Result<std::string> jwtBundleJson() const;
  /// The SPIFFE bundle format: JWK Set with `keys` (x509-svid keys with one x5c and no kid,
  /// jwt-svid keys with kid), `spiffe_sequence` and `spiffe_refresh_hint` when set
  /// (BUNDLE-1 … BUNDLE-7).
  Result<std::string> toSpiffeJson() const;

  /// Parses the SPIFFE bundle format, as strictly as go-spiffe: `keys` required, x509-svid
  /// entries need exactly one x5c whose certificate matches the JWK key members, jwt-svid
  /// entries need a unique non-empty kid, unknown `kty` fails the set; entries with a missing
  /// or unknown `use` are skipped (BUNDLE-1 … BUNDLE-7).
  static Result<Bundle> parseSpiffeJson(const TrustDomain& td, std::string_view json);
  /// Parses a Workload API JWT bundle (JWKS whose keys need a kid; `use` ignored).
  static Result<Bundle> parseJwtBundleJson(const TrustDomain& td, std::string_view json);
  /// Parses concatenated DER certificates (BUNDLE-10); empty input = no authorities.
  static Result<Bundle> parseX509Der(const TrustDomain& td, std::string_view der);
  /// Parses PEM certificates; at least one is required.
  static Result<Bundle> parseX509Pem(const TrustDomain& td, std::string_view pem);

  /// Same trust domain, same authorities (by DER / kid+SPKI), same sequence and refresh hint.
  bool sameContent(const Bundle& other) const;

 private:
  TrustDomain td_;
  std::vector<ossl::UniquePtr<X509>> x509_;
  std::vector<JwtAuthority> jwt_;
  std::optional<uint64_t> sequence_;
  std::optional<int64_t> refreshHint_;
};

/// Bundles by trust domain, as a validator sees them (own + federated). Never merged across
/// domains (BUNDLE-8, X509-8).
using BundleMap = std::map<TrustDomain, std::shared_ptr<const Bundle>>;

/// Concatenated DER certificates -> certificates. InvalidArgument on trailing or bad bytes.
Result<std::vector<ossl::UniquePtr<X509>>> parseDerCertificates(std::string_view der);
/// PEM certificates -> certificates. InvalidArgument when none or any is malformed.
Result<std::vector<ossl::UniquePtr<X509>>> parsePemCertificates(std::string_view pem);
/// DER encoding of one certificate.
Result<std::string> certificateToDer(const X509* cert);
/// PEM encoding of one certificate.
Result<std::string> certificateToPem(const X509* cert);

}  // namespace lanyard::svid
