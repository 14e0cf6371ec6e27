// SPDX-License-Identifier: Apache-2.0
// PodListCache: the last parsed kubelet pod list, shared by concurrent callers, refreshed by
// one fetch at a time (single-flight).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "attestors/attestor.h"
#include "attestors/k8s/kubelet_client.h"
#include "attestors/k8s/pod_list.h"
#include "common/result.h"

namespace lanyard::attestors::k8s {

/// A parsed pod list and its place in the sequence of successful fetches.
struct PodListSnapshot {
  std::shared_ptr<const PodList> list;
  /// 1 for the first successful fetch, +1 for each later one.
  uint64_t generation = 0;
};

/// Owned by the k8s attestor, borrows its KubeletClient (which must outlive it). Thread-safe:
/// mu_ is held only to look at or swap the snapshot, never during a fetch or a parse, so a
/// caller served from the cache never waits for a slow kubelet.
class PodListCache {
 public:
  PodListCache(const KubeletClient& client, std::chrono::milliseconds ttl);

  /// A pod list newer than generation `newerThan` (0: any) and younger than the TTL. When the
  /// cache has none, one caller fetches and parses while the others wait for its result (up to
  /// their own deadline). Errors: the fetch's or the parse's, or Unavailable when the deadline
  /// passes while waiting.
  Result<PodListSnapshot> get(uint64_t newerThan, Deadline deadline);

  /// How many fetches were started (for tests and the benchmark).
  uint64_t fetches() const;

 private:
  Result<PodListSnapshot> fetchAndPublish(std::unique_lock<std::mutex>& lock, Deadline deadline);

  const KubeletClient& client_;
  const std::chrono::milliseconds ttl_;

  mutable std::mutex mu_;
  std::condition_variable done_;                     // a fetch finished (mu_)
  PodListSnapshot latest_;                           // mu_
  std::chrono::steady_clock::time_point fetchedAt_;  // mu_
  bool inFlight_ = false;                            // mu_
  uint64_t fetchesStarted_ = 0;                      // mu_
  uint64_t failedFetch_ = 0;                         // mu_: the number of the last failed fetch
  std::optional<Error> lastError_;                   // mu_
};

}  // namespace lanyard::attestors::k8s
