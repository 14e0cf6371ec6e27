// SPDX-License-Identifier: Apache-2.0
// AuthorityStore: the CA state in the data directory, written atomically and reloaded on
// restart so that a restart never changes the trust bundle (DESIGN.md §3).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/clock.h"
#include "common/openssl.h"
#include "common/result.h"
#include "svid/spiffe_id.h"

namespace lanyard::svid {

/// Where a CA generation is in its life (DESIGN.md §3): published in the bundle before it
/// signs anything, then signing, then kept in the bundle until its last SVID has expired.
enum class SlotState { Prepared, Active, Retired };

const char* slotStateName(SlotState s);

/// One CA generation: an X.509 signing CA and a JWT signing key, rotated together. When the
/// X.509 issuing CA is kept in memory only (AuthorityConfig::issuingTtl), a generation is its
/// JWT key alone: cert and key are null and the lifetime is recorded in the manifest.
struct CaSlot {
  uint64_t id = 0;
  SlotState state = SlotState::Prepared;
  SysTime notBefore{};
  SysTime notAfter{};
  ossl::UniquePtr<X509> cert;
  ossl::UniquePtr<EVP_PKEY> key;
  ossl::UniquePtr<EVP_PKEY> jwtKey;
  std::string jwtKid;
};

/// Everything the store persists.
struct AuthorityState {
  uint64_t sequence = 0;  // spiffe_sequence of the current bundle (BUNDLE-2)
  uint64_t nextSlotId = 1;
  // Digest of the upstream roots the bundle held when this state was saved (empty: none, or a
  // manifest written before it was recorded): a configuration change of the roots is a bundle
  // change, so it must move the sequence too.
  std::string upstreamRoots;
  std::vector<CaSlot> slots;
};

/// Reads and writes `<data_dir>/authority.json` plus one certificate and two key files per
/// slot (`ca-<id>.pem`, `ca-<id>.key`, `jwt-<id>.key`; keys 0600) — only `jwt-<id>.key` when
/// the slots carry no X.509 CA. Slot files are immutable once written; authority.json is the
/// commit point, replaced atomically after the slot files it names are durable. Not
/// thread-safe: one owner (the Authority).
class AuthorityStore {
 public:
  /// `x509InSlots` false: slots hold JWT keys only, and any CA files a slot has on disk (left
  /// by a daemon that persisted its issuing CA) are removed by the next save().
  AuthorityStore(std::string dataDir, TrustDomain td, std::string upstream, bool x509InSlots);

  /// Loads the state. nullopt when the directory holds no authority at all (first start).
  /// Fails, naming the file and the problem, on a manifest that is corrupted, truncated or
  /// from another trust domain or upstream mode; a referenced file that is missing, unreadable,
  /// group/world-readable (keys), corrupted, or whose key does not match its certificate; and
  /// on CA key files without a manifest (never silently replaced by a new root).
  Result<std::optional<AuthorityState>> load() const;

  /// Persists `state`: writes the files of slots not in the committed manifest, then the
  /// manifest, then removes files of slots no longer present (and stale temp files).
  Result<void> save(const AuthorityState& state) const;

  const std::string& manifestPath() const { return manifest_; }

 private:
  Result<CaSlot> loadSlot(const nlohmann::json& s) const;
  Result<void> loadSlotLifetime(const nlohmann::json& s, CaSlot& slot) const;
  std::string slotFile(const char* prefix, uint64_t id, const char* ext) const;

  std::string dir_;
  std::string manifest_;
  // Slot ids named by the manifest on disk. Files of any other slot are (re)written by save():
  // a crash between writing a slot's files and committing the manifest leaves files that a
  // reused id must not trust.
  mutable std::set<uint64_t> committed_;
  TrustDomain td_;
  std::string upstream_;
  bool x509InSlots_;
};

}  // namespace lanyard::svid
