// SPDX-License-Identifier: Apache-2.0
// IdentityProvider: the daemon's IdentitySource — registration entries matched against a
// caller's selectors, the X.509-SVID cache with renewal at half-life, the JWT-SVID cache, and
// the listeners told about every change (DESIGN.md §1, §3, §5).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "daemon/entry.h"
#include "svid/authority.h"
#include "workload_api/workload_attestation.h"

namespace lanyard::daemon {

/// What the provider needs from the configuration; swapped whole on reload.
struct IdentityPolicy {
  std::vector<RegistrationEntry> entries;
  Seconds x509SvidTtl{3600};
  Seconds jwtSvidTtl{300};
};

/// Owned by the daemon; borrows the Authority and the Clock for its lifetime, and `registry`
/// when given (else it counts into a registry of its own; docs/metrics.md). Thread-safe:
/// the Workload API's workers call the IdentitySource methods, the daemon's io thread calls
/// setPolicy(), renewDue() and authorityChanged().
class IdentityProvider final : public workload_api::IdentitySource {
 public:
  IdentityProvider(const svid::Authority& authority, const Clock& clock, IdentityPolicy policy,
                   metrics::Registry* registry = nullptr);

  Result<workload_api::X509View> x509View(const workload_api::Selectors& selectors) override;
  Result<svid::BundleMap> bundles(const workload_api::Selectors& selectors) override;
  Result<std::vector<workload_api::JwtSvidRecord>> jwtSvids(
      const workload_api::Selectors& selectors, const std::vector<std::string>& audience,
      const std::optional<svid::SpiffeId>& only) override;
  Result<svid::BundleMap> validationBundles(const workload_api::Selectors& selectors) override;
  void subscribe(std::weak_ptr<workload_api::ChangeListener> listener) override;

  /// Replaces the entries and default TTLs (a reload) and tells every listener.
  void setPolicy(IdentityPolicy policy);
  /// Replaces the node's selectors (the TPM node attestor's), which join every caller's when
  /// entries are matched, and tells every listener when they changed: an identity whose entry
  /// needs a selector that is gone is withdrawn from open streams.
  void setNodeSelectors(workload_api::Selectors selectors);
  /// Re-mints every cached X.509-SVID past its renewal time that a stream still shows, drops
  /// the ones nobody holds, and tells listeners when anything was renewed. Returns how many
  /// were renewed.
  size_t renewDue();
  /// The Authority published a new snapshot (bundle change, rotation): tells listeners.
  void authorityChanged();
  /// Cached X.509-SVIDs and JWT-SVIDs (for tests and metrics).
  size_t cachedX509() const;
  size_t cachedJwt() const;
  /// The earliest notAfter among the cached X.509-SVIDs; none when the cache is empty.
  std::optional<SysTime> soonestX509Expiry() const;

 private:
  struct Identity {
    svid::SpiffeId id;
    const RegistrationEntry* entry;
  };
  struct X509Slot {
    std::shared_ptr<const workload_api::X509SvidRecord> record;
    SysTime renewAt;
    svid::X509SvidParams params;
    std::string hint;
  };
  struct JwtSlot {
    std::string token;
    SysTime renewAt;
  };

  // The identities the selectors entitle to, in entry order, one per SPIFFE ID. mu_ held.
  std::vector<Identity> identitiesLocked(const workload_api::Selectors& selectors) const;
  // The cached SVID, minted when missing or due; sets `renewedHeld` when it replaced a due one
  // that a stream still holds. mu_ held.
  Result<std::shared_ptr<const workload_api::X509SvidRecord>> x509Locked(const Identity& identity,
                                                                         bool& renewedHeld);
  Result<X509Slot> mintX509(const svid::SpiffeId& id, svid::X509SvidParams params,
                            std::string hint);
  SysTime renewalTime(SysTime notBefore, SysTime notAfter);
  void notifyAll();

  const svid::Authority& authority_;
  const Clock& clock_;
  const std::unique_ptr<metrics::Registry> ownMetrics_;  // when none was given
  metrics::Counter& x509Issued_;                         // lanyard_svids_issued_total{type="x509"}
  metrics::Counter& jwtIssued_;                          // lanyard_svids_issued_total{type="jwt"}
  metrics::Counter& renewed_;                            // lanyard_svid_renewals_total

  mutable std::mutex mu_;  // guards everything below
  IdentityPolicy policy_;
  workload_api::Selectors nodeSelectors_;  // sorted
  std::map<std::string, X509Slot> x509_;   // key: x509Key()
  std::map<std::string, JwtSlot> jwt_;     // key: SPIFFE ID + sorted audience
  std::mt19937_64 rng_;

  std::mutex listenersMu_;  // guards listeners_
  std::vector<std::weak_ptr<workload_api::ChangeListener>> listeners_;
};

}  // namespace lanyard::daemon
