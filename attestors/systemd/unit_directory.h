// SPDX-License-Identifier: Apache-2.0
// UnitDirectory: the service manager's own answer to "which unit is this process in", the
// injected interface through which the systemd attestor reaches D-Bus (STYLE.md §3).
#pragma once

#include <optional>
#include <string>

#include "attestors/attestor.h"
#include "common/result.h"

namespace lanyard::attestors::systemd_unit {

/// What systemd says about the unit a process runs in.
struct UnitInfo {
  /// The unit's Id ("nginx.service"); empty when systemd knows no unit for the process.
  std::string id;
  /// Its FragmentPath, the unit file it was loaded from; empty for transient units.
  std::string fragmentPath;
};

/// Asks the service manager which unit a caller is in. Implementations are safe to call from
/// many threads at once.
class UnitDirectory {
 public:
  virtual ~UnitDirectory() = default;

  /// The unit of `caller`, asked by its pidfd when it has one, else by its pid. std::nullopt
  /// when systemd cannot be asked at all (no bus, or systemd not on it): not an error. Fails
  /// (Unavailable) when systemd was asked but did not answer by `deadline`, or answered with
  /// an error. Blocks at most until `deadline`.
  virtual Result<std::optional<UnitInfo>> unitOf(const Caller& caller, Deadline deadline) const = 0;
};

}  // namespace lanyard::attestors::systemd_unit
