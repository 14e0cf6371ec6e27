// SPDX-License-Identifier: Apache-2.0
// IdentityProvider: entries → identities → cached SVIDs, renewal, and change notification.
#include "daemon/identity_provider.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/log.h"

namespace lanyard::daemon {
namespace {

// Beyond this many cached JWT-SVIDs the expired ones are dropped, and if that is not enough
// the cache starts over: a caller inventing audiences must not grow the daemon without bound.
constexpr size_t kMaxJwtCache = 10000;

std::vector<CallerSelector> callerSelectors(const workload_api::Selectors& selectors) {
  std::vector<CallerSelector> out;
  out.reserve(selectors.size());
  for (const auto& s : selectors) {
    out.emplace_back(s.type, s.value);
  }
  return out;
}

std::string x509Key(const svid::SpiffeId& id, const svid::X509SvidParams& params,
                    const std::string& hint) {
  std::string key = id.str() + '\n' + std::to_string(params.ttl.count()) + '\n' + hint;
  for (const auto& dns : params.dnsNames) {
    key += '\n' + dns;
  }
  return key;
}

std::string jwtKey(const svid::SpiffeId& id, const std::vector<std::string>& audience) {
  std::set<std::string> sorted(audience.begin(), audience.end());
  std::string key = id.str();
  for (const auto& a : sorted) {
    key += '\n' + a;
  }
  return key;
}

// "Cannot mint now" is retriable for the caller (WAPI-5: UNAVAILABLE).
Error mintError(const Error& e, const svid::SpiffeId& id) {
  return Error{Code::Unavailable, "minting SVID for " + id.str() + ": " + e.message};
}

metrics::Family<metrics::Counter>& issuedFamily(metrics::Registry& r) {
  return r.counter("lanyard_svids_issued_total", "SVIDs minted, by type (x509 or jwt)", {"type"});
}

metrics::Counter& renewalsCounter(metrics::Registry& r) {
  return r
      .counter("lanyard_svid_renewals_total",
               "X.509-SVIDs re-minted by the renewal tick before they expired (streams get the "
               "new one)")
      .with();
}

}  // namespace

IdentityProvider::IdentityProvider(const svid::Authority& authority, const Clock& clock,
                                   IdentityPolicy policy, metrics::Registry* registry)
    : authority_(authority),
      clock_(clock),
      ownMetrics_(registry == nullptr ? std::make_unique<metrics::Registry>() : nullptr),
      x509Issued_(issuedFamily(registry ? *registry : *ownMetrics_).with({"x509"})),
      jwtIssued_(issuedFamily(registry ? *registry : *ownMetrics_).with({"jwt"})),
      renewed_(renewalsCounter(registry ? *registry : *ownMetrics_)),
      policy_(std::move(policy)),
      rng_(std::random_device{}()) {}

std::vector<IdentityProvider::Identity> IdentityProvider::identitiesLocked(
    const workload_api::Selectors& selectors) const {
  auto caller = callerSelectors(selectors);
  // The node's own selectors (TPM) hold for every caller on it.
  const auto node = callerSelectors(nodeSelectors_);
  caller.insert(caller.end(), node.begin(), node.end());
  std::vector<Identity> out;
  std::set<svid::SpiffeId> seen;
  for (const auto& entry : policy_.entries) {
    if (!matches(entry, caller)) {
      continue;
    }
    auto id = render(entry, caller);
    if (!id) {
      log::get("daemon")->debug("entry {} does not apply: {}", entry.spiffeIdTemplate,
                                id.error().message);
      continue;
    }
    if (seen.insert(*id).second) {
      out.push_back({std::move(*id), &entry});
    }
  }
  return out;
}

SysTime IdentityProvider::renewalTime(SysTime mintedAt, SysTime notAfter) {
  // Half of what is left at minting, less up to a tenth as jitter, so that SVIDs minted
  // together do not all renew in the same instant (DESIGN.md §3).
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(notAfter - mintedAt);
  auto tenth = std::max<int64_t>(1, left.count() / 10);
  auto jitter = std::uniform_int_distribution<int64_t>(0, tenth - 1)(rng_);
  return mintedAt + left / 2 - std::chrono::milliseconds(jitter);
}

Result<IdentityProvider::X509Slot> IdentityProvider::mintX509(const svid::SpiffeId& id,
                                                              svid::X509SvidParams params,
                                                              std::string hint) {
  auto snapshot = authority_.current();
  const SysTime now = clock_.now();
  auto minted = snapshot->x509->mint(id, params, now);
  if (!minted) {
    return fail(mintError(minted.error(), id));
  }
  x509Issued_.inc();
  auto record = std::make_shared<workload_api::X509SvidRecord>(workload_api::X509SvidRecord{
      .id = id,
      .chainDer = std::move(minted->der),
      .keyDer = std::move(minted->keyDer),
      .hint = hint,
      .notBefore = minted->notBefore,
      .notAfter = minted->notAfter,
  });
  SysTime renewAt = renewalTime(now, record->notAfter);
  return X509Slot{.record = std::move(record),
                  .renewAt = renewAt,
                  .params = std::move(params),
                  .hint = std::move(hint)};
}

Result<std::shared_ptr<const workload_api::X509SvidRecord>> IdentityProvider::x509Locked(
    const Identity& identity, bool& renewedHeld) {
  svid::X509SvidParams params{.dnsNames = identity.entry->dnsNames,
                              .ttl = identity.entry->x509SvidTtl.value_or(policy_.x509SvidTtl)};
  const std::string key = x509Key(identity.id, params, identity.entry->hint);
  auto it = x509_.find(key);
  if (it != x509_.end() && clock_.now() < it->second.renewAt) {
    return it->second.record;
  }
  LANYARD_TRY(X509Slot slot, mintX509(identity.id, std::move(params), identity.entry->hint));
  auto record = slot.record;
  if (it != x509_.end()) {
    // A due SVID renewed here (before the renewal tick got to it) that streams still show.
    renewedHeld = renewedHeld || it->second.record.use_count() > 1;
    it->second = std::move(slot);
  } else {
    x509_.emplace(key, std::move(slot));
  }
  return record;
}

Result<workload_api::X509View> IdentityProvider::x509View(
    const workload_api::Selectors& selectors) {
  workload_api::X509View view;
  bool renewedHeld = false;
  {
    std::lock_guard lock(mu_);
    auto identities = identitiesLocked(selectors);
    if (identities.empty()) {
      return fail(Code::PermissionDenied, "no identity issued");
    }
    for (const auto& identity : identities) {
      LANYARD_TRY(auto record, x509Locked(identity, renewedHeld));
      view.svids.push_back(std::move(record));
    }
  }
  view.bundle = authority_.current()->bundle;
  if (renewedHeld) {
    notifyAll();
  }
  return view;
}

Result<svid::BundleMap> IdentityProvider::bundles(const workload_api::Selectors& selectors) {
  {
    std::lock_guard lock(mu_);
    if (identitiesLocked(selectors).empty()) {
      return fail(Code::PermissionDenied, "no identity issued");
    }
  }
  return validationBundles(selectors);
}

Result<svid::BundleMap> IdentityProvider::validationBundles(
    const workload_api::Selectors& /*selectors*/) {
  auto snapshot = authority_.current();
  svid::BundleMap out;
  out.emplace(snapshot->bundle->trustDomain(), snapshot->bundle);
  return out;
}

Result<std::vector<workload_api::JwtSvidRecord>> IdentityProvider::jwtSvids(
    const workload_api::Selectors& selectors, const std::vector<std::string>& audience,
    const std::optional<svid::SpiffeId>& only) {
  std::lock_guard lock(mu_);
  auto identities = identitiesLocked(selectors);
  if (only) {
    std::erase_if(identities, [&](const Identity& i) { return i.id != *only; });
    if (identities.empty()) {
      return fail(Code::PermissionDenied, "no identity issued for " + only->str());
    }
  } else if (identities.empty()) {
    return fail(Code::PermissionDenied, "no identity issued");
  }
  const SysTime now = clock_.now();
  std::shared_ptr<const svid::AuthoritySnapshot> snapshot;
  std::vector<workload_api::JwtSvidRecord> out;
  for (const auto& identity : identities) {
    const std::string key = jwtKey(identity.id, audience);
    auto it = jwt_.find(key);
    if (it == jwt_.end() || now >= it->second.renewAt) {
      // JWT-SVIDs are cached per (identity, audience set) until half their life is gone.
      if (!snapshot) {
        snapshot = authority_.current();
      }
      const Seconds ttl = identity.entry->jwtSvidTtl.value_or(policy_.jwtSvidTtl);
      auto token = svid::mintJwtSvid(*snapshot->jwt, identity.id, audience, now, ttl);
      if (!token) {
        return fail(mintError(token.error(), identity.id));
      }
      jwtIssued_.inc();
      if (jwt_.size() >= kMaxJwtCache) {
        std::erase_if(jwt_, [&](const auto& kv) { return now >= kv.second.renewAt; });
        if (jwt_.size() >= kMaxJwtCache) {
          jwt_.clear();
        }
      }
      it = jwt_.insert_or_assign(key, JwtSlot{std::move(*token), now + ttl / 2}).first;
    }
    out.push_back({identity.id.str(), it->second.token, identity.entry->hint});
  }
  return out;
}

void IdentityProvider::subscribe(std::weak_ptr<workload_api::ChangeListener> listener) {
  std::lock_guard lock(listenersMu_);
  // Drop expired listeners now and then, so that the list tracks the open streams.
  if (listeners_.size() >= 64 && (listeners_.size() & (listeners_.size() - 1)) == 0) {
    std::erase_if(listeners_, [](const auto& w) { return w.expired(); });
  }
  listeners_.push_back(std::move(listener));
}

void IdentityProvider::notifyAll() {
  std::vector<std::shared_ptr<workload_api::ChangeListener>> live;
  {
    std::lock_guard lock(listenersMu_);
    live.reserve(listeners_.size());
    std::erase_if(listeners_, [&](const auto& weak) {
      auto listener = weak.lock();
      if (!listener) {
        return true;
      }
      live.push_back(std::move(listener));
      return false;
    });
  }
  for (const auto& listener : live) {
    listener->onChange();
  }
}

void IdentityProvider::setPolicy(IdentityPolicy policy) {
  {
    std::lock_guard lock(mu_);
    policy_ = std::move(policy);
    jwt_.clear();  // TTLs or hints may have changed; tokens are cheap to mint
  }
  notifyAll();
}

void IdentityProvider::setNodeSelectors(workload_api::Selectors selectors) {
  std::sort(selectors.begin(), selectors.end());
  {
    std::lock_guard lock(mu_);
    if (selectors == nodeSelectors_) {
      return;
    }
    nodeSelectors_ = std::move(selectors);
  }
  notifyAll();
}

size_t IdentityProvider::renewDue() {
  size_t renewed = 0;
  {
    std::lock_guard lock(mu_);
    const SysTime now = clock_.now();
    for (auto it = x509_.begin(); it != x509_.end();) {
      X509Slot& slot = it->second;
      if (now < slot.renewAt) {
        ++it;
        continue;
      }
      if (slot.record.use_count() == 1) {
        it = x509_.erase(it);  // nobody shows it: mint again on the next request
        continue;
      }
      auto next = mintX509(slot.record->id, slot.params, slot.hint);
      if (!next) {
        // Keep serving the old one while it is valid; the next tick tries again.
        log::get("daemon")->error("renewing X.509-SVID: {}", next.error().message);
        if (now >= slot.record->notAfter) {
          it = x509_.erase(it);
          continue;
        }
      } else {
        slot = std::move(*next);
        ++renewed;
        renewed_.inc();
      }
      ++it;
    }
    std::erase_if(jwt_, [&](const auto& kv) { return now >= kv.second.renewAt; });
  }
  if (renewed > 0) {
    log::get("daemon")->debug("renewed {} X.509-SVIDs", renewed);
    notifyAll();
  }
  return renewed;
}

void IdentityProvider::authorityChanged() { notifyAll(); }

size_t IdentityProvider::cachedX509() const {
  std::lock_guard lock(mu_);
  return x509_.size();
}

size_t IdentityProvider::cachedJwt() const {
  std::lock_guard lock(mu_);
  return jwt_.size();
}

std::optional<SysTime> IdentityProvider::soonestX509Expiry() const {
  std::lock_guard lock(mu_);
  std::optional<SysTime> soonest;
  for (const auto& [key, slot] : x509_) {
    if (!soonest || slot.record->notAfter < *soonest) {
      soonest = slot.record->notAfter;
    }
  }
  return soonest;
}

}  // namespace lanyard::daemon
