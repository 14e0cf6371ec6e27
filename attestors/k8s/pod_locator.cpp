// SPDX-License-Identifier: Apache-2.0
// CgroupPodLocator: a process's pod and container from /proc/<pid>/cgroup.
#include "attestors/k8s/pod_locator.h"

#include <utility>

#include "attestors/container/cgroup.h"

namespace lanyard::attestors::k8s {

Result<std::optional<PodMembership>> CgroupPodLocator::locate(pid_t pid) const {
  LANYARD_TRY(std::string text, container::readCgroupFile(pid, procRoot_));
  auto identity = container::parseCgroupIdentity(text);
  if (!identity) {
    return fail(identity.error().wrap("reading the pod of pid " + std::to_string(pid)));
  }
  if (identity->podUid.empty()) {
    return std::optional<PodMembership>();
  }
  return std::optional<PodMembership>(
      PodMembership{std::move(identity->podUid), std::move(identity->containerId)});
}

}  // namespace lanyard::attestors::k8s
