// SPDX-License-Identifier: Apache-2.0
// PodListCache: single-flight refresh of the kubelet pod list (one fetch for any number of
// concurrent callers; SPIRE #3957 fetched once per caller).
#include "attestors/k8s/pod_list_cache.h"

#include <string>
#include <utility>

namespace lanyard::attestors::k8s {

using Clock = std::chrono::steady_clock;

PodListCache::PodListCache(const KubeletClient& client, std::chrono::milliseconds ttl)
    : client_(client), ttl_(ttl) {}

uint64_t PodListCache::fetches() const {
  std::lock_guard lock(mu_);
  return fetchesStarted_;
}

Result<PodListSnapshot> PodListCache::get(uint64_t newerThan, Deadline deadline) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (latest_.list && latest_.generation > newerThan && Clock::now() - fetchedAt_ < ttl_) {
      return latest_;
    }
    if (!inFlight_) {
      return fetchAndPublish(lock, deadline);
    }
    // Someone else is fetching: wait for that fetch rather than start another.
    const uint64_t awaited = fetchesStarted_;
    if (!done_.wait_until(lock, deadline, [&] { return !inFlight_; })) {
      return fail(Code::Unavailable, "waiting for the kubelet pod list: deadline exceeded");
    }
    if (failedFetch_ == awaited && lastError_) {
      return fail(*lastError_);
    }
    if (latest_.list && latest_.generation > newerThan) {
      return latest_;  // fresh from the fetch just awaited, whatever the TTL says
    }
  }
}

Result<PodListSnapshot> PodListCache::fetchAndPublish(std::unique_lock<std::mutex>& lock,
                                                      Deadline deadline) {
  inFlight_ = true;
  const uint64_t number = ++fetchesStarted_;
  lock.unlock();
  // Fetch and parse outside the lock; the body is dropped as soon as it is parsed, so at most
  // one document is held per fetch.
  Result<std::shared_ptr<const PodList>> parsed = [&]() -> Result<std::shared_ptr<const PodList>> {
    LANYARD_TRY(std::string body, client_.fetchPods(deadline));
    auto list = PodList::parse(body);
    if (!list) {
      return fail(list.error().wrap("GET " + client_.url()));
    }
    return std::make_shared<const PodList>(std::move(*list));
  }();
  lock.lock();
  inFlight_ = false;
  done_.notify_all();
  if (!parsed) {
    failedFetch_ = number;
    lastError_ = parsed.error();
    return fail(parsed.error());
  }
  latest_ = PodListSnapshot{std::move(*parsed), latest_.generation + 1};
  fetchedAt_ = Clock::now();
  return latest_;
}

}  // namespace lanyard::attestors::k8s
