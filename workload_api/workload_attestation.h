// SPDX-License-Identifier: Apache-2.0
// The two narrow interfaces the Workload API server consumes (STYLE.md §1): attestation of a
// caller into selectors, and the identities and bundles those selectors entitle it to.
// daemon/ plugs in the real implementations, as SPIRE's endpoints/workload/handler.go does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attestors/attestor.h"
#include "common/clock.h"
#include "common/result.h"
#include "svid/bundle.h"
#include "svid/jwt_svid.h"
#include "svid/key.h"
#include "svid/spiffe_id.h"

namespace lanyard::workload_api {

using Selectors = std::vector<attestors::Selector>;

/// Turns a connected caller into selectors. Implementations are thread-safe; every method may
/// block (it runs on the server's worker pool, never on gRPC's threads).
class WorkloadAttestation {
 public:
  virtual ~WorkloadAttestation() = default;
  /// The caller's selectors, sorted. Unavailable when attestation failed (retriable).
  virtual Result<Selectors> attest(const attestors::Caller& caller,
                                   attestors::Deadline deadline) const = 0;
  /// The process's start time (clock ticks after boot), read when the connection is accepted.
  virtual Result<uint64_t> startTime(pid_t pid) const = 0;
  /// Confirms that `caller` is still the process that connected: alive (through its pidfd when
  /// there is one) and started at `startTime`. PermissionDenied otherwise (the PID race: a
  /// caller that exited or was replaced gets no identity).
  virtual Result<void> confirmSameProcess(const attestors::Caller& caller,
                                          uint64_t startTime) const = 0;
  /// What must not change for an earlier attestation of this process to still hold: its
  /// credentials and the executable it runs (an exec changes it). `uid` is the effective uid.
  struct ProcessStamp {
    uid_t uid = 0;
    std::string key;
  };
  /// The caller's stamp now. PermissionDenied when the process cannot be read (it exited).
  virtual Result<ProcessStamp> processStamp(const attestors::Caller& caller) const = 0;
};

/// One X.509-SVID as the Workload API serves it (WAPI-10). Immutable; shared by every stream
/// that shows it.
struct X509SvidRecord {
  svid::SpiffeId id;
  /// DER chain, leaf first.
  std::string chainDer;
  /// Unencrypted PKCS#8 DER.
  svid::SecretBytes keyDer;
  std::string hint;
  SysTime notBefore;
  SysTime notAfter;
};

/// What one caller's FetchX509SVID stream shows at a moment.
struct X509View {
  /// Preference order; element 0 is the default identity (WAPI-8).
  std::vector<std::shared_ptr<const X509SvidRecord>> svids;
  /// The daemon's own trust domain bundle.
  std::shared_ptr<const svid::Bundle> bundle;
  /// Foreign trust domains only (WAPI-11).
  svid::BundleMap federated;
};

/// One minted JWT-SVID (WAPI-13).
struct JwtSvidRecord {
  std::string spiffeId;
  std::string token;
  std::string hint;
};

/// Called whenever something a view depends on may have changed (SVID renewal, entries, bundle).
/// Listeners are held weakly: a listener that is destroyed is dropped.
class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  /// Must not block: it runs on the thread that published the change.
  virtual void onChange() = 0;
};

/// The identities and bundles selectors entitle a caller to. Thread-safe; methods may block
/// while they mint (they run on the worker pool).
class IdentitySource {
 public:
  virtual ~IdentitySource() = default;
  /// The caller's X.509-SVIDs and bundles. PermissionDenied when no entry matches (WAPI-8).
  virtual Result<X509View> x509View(const Selectors& selectors) = 0;
  /// The bundles (own + federated) a caller may use, keyed by trust domain. PermissionDenied
  /// when no entry matches (WAPI-5).
  virtual Result<svid::BundleMap> bundles(const Selectors& selectors) = 0;
  /// JWT-SVIDs for `audience` (empty strings already dropped, at least one left), one per
  /// entitled identity, or only `only` (PermissionDenied when the caller is not entitled to it).
  virtual Result<std::vector<JwtSvidRecord>> jwtSvids(
      const Selectors& selectors, const std::vector<std::string>& audience,
      const std::optional<svid::SpiffeId>& only) = 0;
  /// The bundles ValidateJWTSVID uses for this caller (own + federated; WAPI-14).
  virtual Result<svid::BundleMap> validationBundles(const Selectors& selectors) = 0;
  /// Adds a listener, held weakly until it expires.
  virtual void subscribe(std::weak_ptr<ChangeListener> listener) = 0;
};

}  // namespace lanyard::workload_api
