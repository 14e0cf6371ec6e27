// SPDX-License-Identifier: Apache-2.0
// SystemdAttestor: /proc/<pid>/cgroup -> systemd unit -> systemd:id selector, checked against
// systemd's own answer on D-Bus, which adds systemd:fragment_path.
#include "attestors/systemd/systemd_attestor.h"

#include <utility>

#include "attestors/container/cgroup.h"
#include "common/log.h"

namespace lanyard::attestors::systemd_unit {

SystemdAttestor::SystemdAttestor(CgroupReader readCgroup,
                                 std::unique_ptr<const UnitDirectory> units)
    : readCgroup_(std::move(readCgroup)), units_(std::move(units)) {
  LANYARD_ASSERT(readCgroup_ != nullptr, "the systemd attestor needs a cgroup reader");
}

Result<std::vector<Selector>> SystemdAttestor::attest(const Caller& caller,
                                                      Deadline deadline) const {
  const std::string doing = "attesting pid " + std::to_string(caller.pid);
  auto text = readCgroup_(caller.pid);
  if (!text) {
    return fail(text.error().code == Code::NotFound ? Code::Unavailable : text.error().code,
                doing + ": " + text.error().message);
  }
  auto identity = container::parseCgroupIdentity(*text);
  if (!identity) {
    return fail(identity.error().wrap(doing));
  }
  const std::string& unit = identity->systemdUnit;
  std::vector<Selector> out;
  if (unit.empty()) {
    return out;  // in no unit: nothing to ask systemd about
  }
  out.push_back({"systemd", "id:" + unit});
  if (units_ == nullptr) {
    return out;
  }
  auto asked = units_->unitOf(caller, deadline);
  if (!asked) {
    return fail(asked.error().wrap(doing));
  }
  if (!*asked) {
    return out;  // no systemd on D-Bus: the cgroup alone (logged by the UnitDirectory)
  }
  const UnitInfo& info = **asked;
  if (info.id != unit) {
    // Two sources disagree about who the caller is: most likely the pid was reused between
    // the cgroup read and the D-Bus call. Never mix the two identities.
    return fail(
        Code::PermissionDenied,
        doing + ": systemd says " +
            (info.id.empty() ? std::string("it is in no unit") : "it is in \"" + info.id + "\"") +
            " but its cgroup says \"" + unit + "\" (did the process exit?)");
  }
  if (!info.fragmentPath.empty()) {
    out.push_back({"systemd", "fragment_path:" + info.fragmentPath});
  }
  log::get("attestor.systemd")
      ->debug("pid {}: unit {}, fragment path \"{}\"", caller.pid, unit, info.fragmentPath);
  return out;
}

}  // namespace lanyard::attestors::systemd_unit
