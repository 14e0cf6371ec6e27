// SPDX-License-Identifier: Apache-2.0
// K8sAttestor: cgroup -> pod UID and container ID -> the kubelet's pod list -> selectors.
#include "attestors/k8s/k8s_attestor.h"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>

#include "common/log.h"

namespace lanyard::attestors::k8s {
namespace {

using Clock = std::chrono::steady_clock;

void add(std::vector<Selector>& out, std::string_view key, const std::string& value) {
  if (!value.empty()) {
    out.push_back(Selector{"k8s", std::string(key) + ":" + value});
  }
}

// The pod and container of `who` in `list`, or nullopt. A container ID listed under another
// pod than the cgroup names is not a match (a stale or forged listing is never trusted).
std::optional<std::vector<Selector>> lookup(const PodList& list, const PodMembership& who) {
  if (who.containerId.empty()) {
    const Pod* pod = list.findPod(who.podUid);
    return pod ? std::optional(podSelectors(*pod, nullptr)) : std::nullopt;
  }
  auto match = list.findContainer(who.containerId);
  if (!match || match->pod->uid != who.podUid) {
    return std::nullopt;
  }
  return podSelectors(*match->pod, match->container);
}

}  // namespace

std::vector<Selector> podSelectors(const Pod& pod, const ContainerStatus* container) {
  std::vector<Selector> out;
  add(out, "ns", pod.ns);
  add(out, "sa", pod.serviceAccount);
  add(out, "pod-name", pod.name);
  add(out, "pod-uid", pod.uid);
  add(out, "node-name", pod.nodeName);
  for (const auto& [key, value] : pod.labels) {
    add(out, "pod-label", key + ":" + value);
  }
  if (container != nullptr) {
    add(out, "container-name", container->name);
    add(out, "container-image", container->image);
    if (container->imageId != container->image) {
      add(out, "container-image", container->imageId);
    }
  }
  return out;
}

K8sAttestor::K8sAttestor(K8sConfig config, std::unique_ptr<const KubeletClient> client,
                         std::unique_ptr<const PodLocator> locator)
    : config_(config),
      client_(std::move(client)),
      locator_(std::move(locator)),
      cache_(*client_, config_.cacheTtl) {}

Result<std::vector<Selector>> K8sAttestor::attest(const Caller& caller, Deadline deadline) const {
  const std::string who = "attesting pid " + std::to_string(caller.pid);
  auto located = locator_->locate(caller.pid);
  if (!located) {
    if (located.error().code == Code::NotFound) {
      return fail(Code::Unavailable, who + ": process exited");
    }
    return fail(located.error().wrap(who));
  }
  if (!*located) {
    return std::vector<Selector>{};  // not in a pod: nothing to say
  }
  const PodMembership& member = **located;
  const std::string what = "pod " + member.podUid +
                           (member.containerId.empty() ? "" : " container " + member.containerId);
  uint64_t seen = 0;  // the newest pod list generation that did not list the caller
  std::optional<Error> lastError;
  for (uint32_t attempt = 1;; ++attempt) {
    auto snapshot = cache_.get(seen, deadline);
    if (snapshot) {
      if (auto selectors = lookup(*snapshot->list, member)) {
        return std::move(*selectors);
      }
      seen = snapshot->generation;
    } else {
      lastError = snapshot.error();
    }
    if (attempt >= config_.maxPollAttempts || Clock::now() >= deadline) {
      break;
    }
    // The first miss refreshes at once (the cached list may just be old); later ones wait,
    // since the kubelet lists a new container a moment after it starts.
    if (attempt > 1 || lastError) {
      std::this_thread::sleep_until(std::min(deadline, Clock::now() + config_.pollRetryInterval));
    }
    if (Clock::now() >= deadline) {
      break;
    }
  }
  if (lastError && seen == 0) {
    return fail(Code::Unavailable, who + ": " + what + ": " + lastError->message);
  }
  log::get("attestor.k8s")->debug("{}: {} is not in the kubelet's pod list (yet)", who, what);
  return fail(Code::Unavailable, who + ": " + what + " is not in the kubelet's pod list (yet)");
}

}  // namespace lanyard::attestors::k8s
