// SPDX-License-Identifier: Apache-2.0
// PodLocator: which pod and container a process runs in, from its cgroup (behind an
// interface so that tests fake /proc, STYLE.md §3).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/result.h"

namespace lanyard::attestors::k8s {

/// A process's Kubernetes pod and container, as the kubelet's cgroup layout names them.
struct PodMembership {
  /// The pod's UID with dashes ("6f1e…-…").
  std::string podUid;
  /// The container's runtime ID (64 hex digits); empty when the process sits in the pod's
  /// cgroup itself rather than in one of its containers'.
  std::string containerId;
};

/// Owned by the k8s attestor; const and thread-safe.
class PodLocator {
 public:
  virtual ~PodLocator() = default;
  /// The pod and container of `pid`, or nullopt when the process is in no Kubernetes pod.
  /// NotFound when the process is gone; other errors name the file.
  virtual Result<std::optional<PodMembership>> locate(pid_t pid) const = 0;
};

/// The real locator: /proc/<pid>/cgroup through the container attestor's cgroup parser
/// (attestors/container/cgroup.h), which only trusts a pod UID above the container and below
/// a "kubepods" cgroup.
class CgroupPodLocator final : public PodLocator {
 public:
  explicit CgroupPodLocator(std::string procRoot = "/proc") : procRoot_(std::move(procRoot)) {}
  Result<std::optional<PodMembership>> locate(pid_t pid) const override;

 private:
  const std::string procRoot_;
};

}  // namespace lanyard::attestors::k8s
