// SPDX-License-Identifier: Apache-2.0
// SystemdBus: the UnitDirectory that asks systemd over D-Bus (sd-bus from libsystemd), as
// SPIRE's systemd workload attestor does: Manager.GetUnitByPIDFD or GetUnitByPID, then the
// unit's Id and FragmentPath.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "attestors/attestor.h"
#include "attestors/systemd/unit_directory.h"
#include "common/result.h"

struct sd_bus;
struct sd_bus_message;

namespace lanyard::attestors::systemd_unit {

/// One D-Bus connection to systemd, opened on first use and again after it breaks. sd-bus
/// objects are not thread-safe: every use of the connection holds mutex_, which callers wait
/// for no longer than their deadline. Owned by the SystemdAttestor.
class SystemdBus final : public UnitDirectory {
 public:
  /// `address` is a D-Bus address ("unix:path=/run/dbus/system_bus_socket"); empty means the
  /// system bus, found as sd_bus_open_system() finds it. Nothing is connected yet.
  explicit SystemdBus(std::string address);
  ~SystemdBus() override;
  SystemdBus(const SystemdBus&) = delete;
  SystemdBus& operator=(const SystemdBus&) = delete;

  /// See UnitDirectory. An unreachable bus is logged at info once per outage, then at debug.
  Result<std::optional<UnitInfo>> unitOf(const Caller& caller, Deadline deadline) const override;

 private:
  struct BusCloser {
    void operator()(sd_bus* bus) const;
  };
  struct MessageUnref {
    void operator()(sd_bus_message* m) const;
  };
  using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

  std::string where() const;
  Result<void> connectLocked(Deadline deadline) const;
  Result<MessagePtr> callLocked(sd_bus_message* request, Deadline deadline) const;
  Result<std::string> unitPathLocked(const Caller& caller, Deadline deadline) const;
  Result<std::string> propertyLocked(const std::string& unitPath, const char* name,
                                     Deadline deadline) const;
  Result<UnitInfo> lookupLocked(const Caller& caller, Deadline deadline) const;

  const std::string address_;
  mutable std::timed_mutex mutex_;
  mutable std::unique_ptr<sd_bus, BusCloser> bus_;  // guarded by mutex_; null: not connected
  mutable bool pidfdUnknown_ = false;  // guarded by mutex_; this bus lacks GetUnitByPIDFD
  mutable bool outage_ = false;        // guarded by mutex_; the last attempt found no systemd
};

}  // namespace lanyard::attestors::systemd_unit
