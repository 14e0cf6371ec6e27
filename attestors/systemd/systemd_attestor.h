// SPDX-License-Identifier: Apache-2.0
// SystemdAttestor: the systemd unit a caller runs in (systemd:id:<unit>, as SPIRE's systemd
// workload attestor spells it), read from the caller's cgroup, and the unit's file
// (systemd:fragment_path:<path>) when systemd answers on D-Bus.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attestors/attestor.h"
#include "attestors/systemd/unit_directory.h"
#include "common/result.h"

namespace lanyard::attestors::systemd_unit {

/// Attests a caller by its systemd unit. Immutable (the UnitDirectory locks its own state);
/// attest() is safe from many threads. Owned by the AttestorSet.
class SystemdAttestor final : public Attestor {
 public:
  static constexpr std::string_view kName = "systemd";
  /// Returns the text of /proc/<pid>/cgroup (tests pass a fake).
  using CgroupReader = std::function<Result<std::string>(pid_t)>;

  /// `units` asks systemd itself (D-Bus); null when D-Bus is off (`dbus: off`).
  explicit SystemdAttestor(CgroupReader readCgroup,
                           std::unique_ptr<const UnitDirectory> units = nullptr);

  std::string_view name() const override { return kName; }

  /// systemd:id:<unit>: the unit the system manager keeps the caller in, derived from its
  /// cgroup as systemd derives it (the first component that is not a slice: "nginx.service",
  /// "session-3.scope", "user@1000.service"). No selectors for a caller in no unit (a host
  /// without systemd, the root cgroup). Works without D-Bus and without systemd as PID 1.
  /// For a caller in a unit, systemd is then asked (when there is a UnitDirectory): its
  /// FragmentPath becomes systemd:fragment_path:<path> (none for a transient unit), and a
  /// systemd that cannot be reached adds nothing and is no error. A systemd that names another
  /// unit than the cgroup (the pid exited and was reused) fails with PermissionDenied: the
  /// caller never gets selectors of two identities.
  Result<std::vector<Selector>> attest(const Caller& caller, Deadline deadline) const override;

 private:
  const CgroupReader readCgroup_;
  const std::unique_ptr<const UnitDirectory> units_;  // may be null
};

}  // namespace lanyard::attestors::systemd_unit
