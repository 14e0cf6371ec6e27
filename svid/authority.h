// SPDX-License-Identifier: Apache-2.0
// Authority: the daemon's signing chain, its rotation (prepared → active → retired) and the
// trust bundle it implies (DESIGN.md §3).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/openssl.h"
#include "common/result.h"
#include "svid/authority_store.h"
#include "svid/bundle.h"
#include "svid/ca_certificate.h"
#include "svid/jwt_svid.h"
#include "svid/key.h"
#include "svid/spiffe_id.h"
#include "svid/tpm_key.h"
#include "svid/x509_svid.h"

namespace lanyard::svid {

enum class UpstreamMode { SelfSigned, Disk, Tpm };

/// "self_signed" / "disk" / "tpm".
const char* upstreamModeName(UpstreamMode m);

struct AuthorityConfig {
  TrustDomain trustDomain;
  /// CA state directory (created 0700 when missing).
  std::string dataDir{};
  UpstreamMode upstream = UpstreamMode::SelfSigned;
  /// Disk mode: the operator's upstream CA certificate (PEM; may be followed by its chain up to
  /// the root) and key (PEM, mode 0600). `upstreamBundleFile` (optional) holds the roots when
  /// the certificate chain does not end in a self-signed certificate.
  std::string upstreamCertFile{};
  std::string upstreamKeyFile{};
  std::string upstreamBundleFile{};
  /// Tpm mode: the TCTI of the TPM that holds the CA key (tss2 syntax). The key's
  /// TPM-wrapped blob is <dataDir>/tpm-ca.tpmkey, made on first start. Its certificate is
  /// `tpmCertFile` when set: issued by an operator's CA from tpmCertificateRequest() (PEM, may
  /// be followed by its chain; `tpmBundleFile` holds the roots when the chain does not end in
  /// one), so that the TPM key is an intermediate of the trust domain. Otherwise the key is a
  /// root with a self-signed certificate <dataDir>/tpm-ca.pem (valid kTpmRootLifetime).
  std::string tpmTcti{"device:/dev/tpmrm0"};
  std::string tpmCertFile{};
  std::string tpmBundleFile{};
  /// Lifetime of each CA generation (SPIRE default 24 h).
  Seconds caTtl{24 * 3600};
  /// Non-zero (disk and tpm upstreams; tpm sets it from authority.tpm.issuing_ttl): the X.509
  /// issuing CA is a key that lives in memory only, signed by the upstream key for this long
  /// and replaced at half its life and at every start. The persisted generations then hold
  /// the JWT keys alone, rotated on caTtl. Zero: each generation's X.509 CA is persisted.
  Seconds issuingTtl{0};
  KeyType caKeyType = KeyType::EcP256;
  KeyType jwtKeyType = KeyType::EcP256;
  /// Use PS256 rather than RS256 when the JWT key is RSA.
  bool jwtRsaPss = false;
  /// spiffe_refresh_hint of the published bundle (BUNDLE-3).
  Seconds refreshHint{300};
};

/// What minting needs at one moment: the active signers and the bundle. Immutable; shared.
struct AuthoritySnapshot {
  std::shared_ptr<const X509SvidIssuer> x509;
  std::shared_ptr<const JwtSigner> jwt;
  std::shared_ptr<const Bundle> bundle;
  /// notAfter of the active CA: no SVID may outlive it.
  SysTime activeNotAfter;
};

/// Lifetime of the self-signed certificate of a TPM-resident root key.
inline constexpr Seconds kTpmRootLifetime{10LL * 365 * 24 * 3600};

/// Owns the CA generations and publishes an AuthoritySnapshot. rotate() is called by one
/// owner thread (the daemon's io_context); current() may be called from any thread.
class Authority {
 public:
  /// Loads the state from `config.dataDir`, or creates the first CA when there is none.
  /// Brings the state up to date with `clock` (as rotate()) and persists it. Fails with the
  /// store's error on bad state files; never replaces an existing root silently.
  static Result<std::unique_ptr<Authority>> create(AuthorityConfig config, const Clock& clock);

  /// Tpm mode: loads the TPM-resident CA key (creating it, and `config.dataDir`, when there is
  /// none) and returns a PEM certificate signing request for it, signed by the TPM
  /// (makeCaRequestPem). An operator's CA signs it; the result goes in authority.tpm.cert_file.
  static Result<std::string> tpmCertificateRequest(const AuthorityConfig& config);

  /// The current snapshot. Thread-safe.
  std::shared_ptr<const AuthoritySnapshot> current() const;

  /// Advances rotation to `clock.now()`: drops expired generations, prepares the next CA at
  /// half of the active CA's life (published in the bundle, not yet signing), activates it when
  /// a sixth of the active CA's life is left (the old one is retired but stays in the bundle
  /// until it expires). Every bundle change increments spiffe_sequence. Persists before
  /// publishing. Returns true when the snapshot changed.
  Result<bool> rotate();

  /// The next moment rotate() has something to do (including renewing an in-memory issuing
  /// CA).
  SysTime nextRotation() const;

  const AuthorityConfig& config() const { return config_; }

 private:
  struct Upstream {
    ossl::UniquePtr<X509> cert;
    ossl::UniquePtr<EVP_PKEY> key;
    std::vector<ossl::UniquePtr<X509>> intermediates;  // cert unless a root, then toward the root
    std::vector<ossl::UniquePtr<X509>> roots;
  };

  Authority(AuthorityConfig config, const Clock& clock, AuthorityStore store)
      : config_(std::move(config)), clock_(clock), store_(std::move(store)) {}

  Result<void> loadUpstream();
  Result<void> loadTpmUpstream();
  // Reads `certFile` (an upstream CA certificate, then its chain) and `bundleFile` (optional
  // roots) into upstream_ after checking that the certificate is for `publicKey` (else fails
  // with `mismatch`), is a CA with keyCertSign, may sign a CA below it, and has roots.
  Result<void> loadUpstreamChain(const std::string& certFile, const std::string& bundleFile,
                                 const std::string& bundleKey, EVP_PKEY* publicKey,
                                 const std::string& mismatch);
  // Signs `params` for `subjectKey` with the upstream (disk or TPM) key.
  Result<ossl::UniquePtr<X509>> signByUpstream(const CaCertParams& params, EVP_PKEY* subjectKey);
  Result<CaSlot> newSlot(SysTime now);
  // Mints a new in-memory issuing CA signed by the upstream key (issuingTtl mode).
  Result<void> renewIssuing(SysTime now);
  Result<bool> advance(SysTime now);
  Result<std::shared_ptr<const AuthoritySnapshot>> buildSnapshot() const;
  const CaSlot* active() const;

  const AuthorityConfig config_;
  const Clock& clock_;
  AuthorityStore store_;
  Upstream upstream_;  // disk and tpm modes (tpm: no key here, it is in the TPM)
  std::unique_ptr<TpmSigningKey> tpmKey_;  // tpm mode only
  AuthorityState state_;                   // owner thread only
  struct Issuing {
    ossl::UniquePtr<X509> cert;
    ossl::UniquePtr<EVP_PKEY> key;
    SysTime renewAt{};
  };
  Issuing issuing_;  // issuingTtl mode only; owner thread only, never written to disk
  // state_ changed but was not saved and published (save or snapshot failed): the next
  // advance() retries both even when nothing new is due. Owner thread only.
  bool dirty_ = false;
  mutable std::mutex mu_;  // guards snapshot_
  std::shared_ptr<const AuthoritySnapshot> snapshot_;
};

}  // namespace lanyard::svid
