// SPDX-License-Identifier: Apache-2.0
// Settings of the systemd attestor (it has none: `systemd: {}`) and its registration.
#include <memory>
#include <string>

#include <yaml-cpp/yaml.h>

#include "attestors/attestor.h"
#include "attestors/container/cgroup.h"
#include "attestors/registry.h"
#include "attestors/systemd/systemd_attestor.h"
#include "common/result.h"

namespace lanyard::attestors::systemd_unit {
namespace {

// The registered factory; only the registry reaches it (link_whole keeps it).
Result<std::unique_ptr<Attestor>> makeSystemdAttestor(const YAML::Node& node) {
  if (node.IsDefined() && !node.IsNull() && !(node.IsMap() && node.size() == 0)) {
    if (node.IsMap()) {
      const YAML::Node key = node.begin()->first;
      std::string name = key.IsScalar() ? key.Scalar() : std::string("?");
      int line = key.Mark().line;
      return fail(Code::InvalidArgument,
                  "unknown key \"" + name + "\"" +
                      (line >= 0 ? " (line " + std::to_string(line + 1) + ")" : "") +
                      " (the systemd attestor has no settings)");
    }
    return fail(Code::InvalidArgument, "settings: want {} (the systemd attestor has no settings)");
  }
  return std::unique_ptr<Attestor>(
      std::make_unique<SystemdAttestor>([](pid_t pid) { return container::readCgroupFile(pid); }));
}

}  // namespace
}  // namespace lanyard::attestors::systemd_unit

LANYARD_REGISTER_ATTESTOR("systemd", lanyard::attestors::systemd_unit::makeSystemdAttestor);
