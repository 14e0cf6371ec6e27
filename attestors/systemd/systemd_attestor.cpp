// SPDX-License-Identifier: Apache-2.0
// SystemdAttestor: /proc/<pid>/cgroup -> systemd unit -> systemd:id selector.
#include "attestors/systemd/systemd_attestor.h"

#include <utility>

#include "attestors/container/cgroup.h"

namespace lanyard::attestors::systemd_unit {

SystemdAttestor::SystemdAttestor(CgroupReader readCgroup) : readCgroup_(std::move(readCgroup)) {
  LANYARD_ASSERT(readCgroup_ != nullptr, "the systemd attestor needs a cgroup reader");
}

Result<std::vector<Selector>> SystemdAttestor::attest(const Caller& caller,
                                                      Deadline /*deadline*/) const {
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
  std::vector<Selector> out;
  if (!identity->systemdUnit.empty()) {
    out.push_back({"systemd", "id:" + identity->systemdUnit});
  }
  return out;
}

}  // namespace lanyard::attestors::systemd_unit
