// SPDX-License-Identifier: Apache-2.0
// SystemdAttestor: the systemd unit a caller runs in (systemd:id:<unit>, as SPIRE's systemd
// workload attestor spells it), read from the caller's cgroup.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "attestors/attestor.h"
#include "common/result.h"

namespace lanyard::attestors::systemd_unit {

/// Attests a caller by its systemd unit. Immutable; attest() is safe from many threads.
/// Owned by the AttestorSet.
class SystemdAttestor final : public Attestor {
 public:
  static constexpr std::string_view kName = "systemd";
  /// Returns the text of /proc/<pid>/cgroup (tests pass a fake).
  using CgroupReader = std::function<Result<std::string>(pid_t)>;

  explicit SystemdAttestor(CgroupReader readCgroup);

  std::string_view name() const override { return kName; }

  /// systemd:id:<unit>: the unit the system manager keeps the caller in, derived from its
  /// cgroup as systemd derives it (the first component that is not a slice: "nginx.service",
  /// "session-3.scope", "user@1000.service"). No selectors for a caller in no unit (a host
  /// without systemd, the root cgroup). Works without D-Bus and without systemd as PID 1.
  Result<std::vector<Selector>> attest(const Caller& caller, Deadline deadline) const override;

 private:
  const CgroupReader readCgroup_;
};

}  // namespace lanyard::attestors::systemd_unit
