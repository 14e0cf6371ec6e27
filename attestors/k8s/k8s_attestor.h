// SPDX-License-Identifier: Apache-2.0
// K8sAttestor: the "k8s" selectors of a caller in a Kubernetes pod (namespace, service account,
// pod, labels, container), from its cgroup and the kubelet's pod list, after SPIRE's k8s
// workload attestor.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "attestors/attestor.h"
#include "attestors/k8s/kubelet_client.h"
#include "attestors/k8s/pod_list_cache.h"
#include "attestors/k8s/pod_locator.h"
#include "common/result.h"

namespace lanyard::attestors::k8s {

/// The attestor's own settings (the kubelet endpoint is the client's), validated by config.cpp.
struct K8sConfig {
  /// Lookups of a pod or container the kubelet does not list (yet): at most this many, each
  /// after a fresh pod list, while the attestation deadline allows (SPIRE: max_poll_attempts).
  uint32_t maxPollAttempts = 60;
  /// The pause between two of those lookups (SPIRE: poll_retry_interval).
  std::chrono::milliseconds pollRetryInterval{500};
  /// How long a fetched pod list answers lookups that find their container.
  std::chrono::milliseconds cacheTtl{1000};
};

/// Owned by the AttestorSet. Immutable except for its pod list cache, which is internally
/// locked: attest() is safe from many threads, and concurrent callers share one fetch.
class K8sAttestor final : public Attestor {
 public:
  static constexpr std::string_view kName = "k8s";

  K8sAttestor(K8sConfig config, std::unique_ptr<const KubeletClient> client,
              std::unique_ptr<const PodLocator> locator);

  std::string_view name() const override { return kName; }

  /// SPIRE's selectors for a process in a pod: ns, sa, pod-name, pod-uid, node-name,
  /// pod-label:<key>:<value> per label, and for its container container-name and
  /// container-image (the image and, when different, the image ID). A process in no pod gets
  /// none and no error. A pod or container the kubelet does not list is looked up again
  /// (maxPollAttempts, pollRetryInterval) until the deadline, then Unavailable: never a
  /// wrong identity.
  Result<std::vector<Selector>> attest(const Caller& caller, Deadline deadline) const override;

  /// Fetches of the pod list so far.
  uint64_t fetches() const { return cache_.fetches(); }

 private:
  const K8sConfig config_;
  const std::unique_ptr<const KubeletClient> client_;
  const std::unique_ptr<const PodLocator> locator_;
  mutable PodListCache cache_;  // internally locked; borrows *client_
};

/// The selectors of `pod` (and of `container` when not null), in SPIRE's spelling.
std::vector<Selector> podSelectors(const Pod& pod, const ContainerStatus* container);

}  // namespace lanyard::attestors::k8s
