// SPDX-License-Identifier: Apache-2.0
// JwtValidationCache: remembered verifications, re-checked for bundle, expiry and audience.
#include "workload_api/jwt_validation_cache.h"

#include <algorithm>

namespace lanyard::workload_api {
namespace {

std::shared_ptr<const svid::Bundle> bundleOf(const svid::BundleMap& bundles,
                                             const svid::TrustDomain& td) {
  auto it = bundles.find(td);
  return it == bundles.end() ? nullptr : it->second;
}

}  // namespace

Result<svid::JwtSvid> JwtValidationCache::validate(std::string_view token,
                                                   const svid::BundleMap& bundles,
                                                   std::string_view audience, SysTime now) {
  std::shared_ptr<const svid::JwtSvid> hit;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(std::string(token));
    if (it != entries_.end()) {
      const Entry& e = it->second;
      if (bundleOf(bundles, e.jwt->subject.trustDomain()) == e.bundle) {
        hit = e.jwt;
      } else {
        entries_.erase(it);  // the bundle changed: verify again
      }
    }
  }
  // JWT-7 and the audience check, exactly as validateJwtSvid() words them; nbf and iat only
  // become more valid as time passes.
  if (hit && unixSeconds(now) - svid::kJwtLeeway.count() <= unixSeconds(hit->expiry) &&
      std::find(hit->audience.begin(), hit->audience.end(), audience) != hit->audience.end()) {
    return *hit;
  }
  LANYARD_TRY(svid::JwtSvid verified, svid::validateJwtSvid(token, bundles, audience, now));
  auto bundle = bundleOf(bundles, verified.subject.trustDomain());
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxEntries) {
    entries_.clear();  // simple and bounded; a busy cache refills with live tokens
  }
  entries_.insert_or_assign(std::string(token),
                            Entry{std::make_shared<const svid::JwtSvid>(verified), bundle});
  return verified;
}

size_t JwtValidationCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace lanyard::workload_api
