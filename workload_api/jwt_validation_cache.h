// SPDX-License-Identifier: Apache-2.0
// JwtValidationCache: ValidateJWTSVID without a signature check for a token already verified
// against the same bundle — the expiry and the audience are still checked on every call.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/result.h"
#include "svid/bundle.h"
#include "svid/jwt_svid.h"

namespace lanyard::workload_api {

/// Owned by the service's context; thread-safe. Holds at most kMaxEntries verified tokens.
class JwtValidationCache {
 public:
  static constexpr size_t kMaxEntries = 4096;

  /// svid::validateJwtSvid() (JWT-11), remembering what verified. A remembered token is
  /// accepted again only while its trust domain's bundle is the very bundle it was verified
  /// against (a rotation or any bundle change verifies afresh), it has not expired (with the
  /// same leeway), and `audience` is one of its "aud" values. Failures are never remembered.
  Result<svid::JwtSvid> validate(std::string_view token, const svid::BundleMap& bundles,
                                 std::string_view audience, SysTime now);
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const svid::JwtSvid> jwt;
    std::shared_ptr<const svid::Bundle> bundle;
  };
  mutable std::mutex mu_;  // guards entries_
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace lanyard::workload_api
