// SPDX-License-Identifier: Apache-2.0
// YAML settings of the systemd attestor (attestors: systemd: {dbus: ...}), validated into
// SystemdAttestorConfig, and its registration (STYLE.md §3).
#include <memory>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "attestors/attestor.h"
#include "attestors/container/cgroup.h"
#include "attestors/registry.h"
#include "attestors/systemd/systemd_attestor.h"
#include "attestors/systemd/systemd_bus.h"
#include "common/result.h"

namespace lanyard::attestors::systemd_unit {
namespace {

constexpr const char* kKnownKeys = "dbus";

struct SystemdAttestorConfig {
  bool dbus = true;
  std::string dbusAddress;  // "" = the system bus, as sd_bus_open_system() finds it
};

std::string where(std::string_view key, const YAML::Node& node) {
  int line = node.Mark().line;
  std::string out(key);
  if (line >= 0) {
    out += " (line " + std::to_string(line + 1) + ")";
  }
  return out;
}

std::string shown(const YAML::Node& node) {
  if (node.IsScalar()) {
    return "\"" + node.Scalar() + "\"";
  }
  return node.IsMap() ? "a map" : node.IsSequence() ? "a list" : "nothing";
}

// The D-Bus specification's address syntax ("Server Addresses"): one or more
// "transport:key=value,key=value" separated by ';'. sd-bus checks the rest when it connects.
bool isBusAddress(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  while (!text.empty()) {
    size_t end = text.find(';');
    std::string_view one = text.substr(0, end);
    size_t colon = one.find(':');
    if (colon == 0 || colon == std::string_view::npos) {
      return false;
    }
    for (char c : one.substr(0, colon)) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        return false;
      }
    }
    std::string_view pairs = one.substr(colon + 1);
    if (!pairs.empty() && (pairs.find('=') == std::string_view::npos || pairs.front() == '=')) {
      return false;
    }
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return true;
}

Result<void> readKey(const YAML::Node& keyNode, const YAML::Node& value,
                     SystemdAttestorConfig& out) {
  const std::string& key = keyNode.Scalar();
  if (key != "dbus") {
    return fail(Code::InvalidArgument, "unknown key " + where("\"" + key + "\"", keyNode) +
                                           " (known: " + kKnownKeys + ")");
  }
  if (value.IsScalar() && value.Scalar() == "off") {
    out.dbus = false;
  } else if (value.IsScalar() && isBusAddress(value.Scalar())) {
    out.dbusAddress = value.Scalar();
  } else {
    return fail(Code::InvalidArgument,
                where(key, value) +
                    ": want a D-Bus address such as unix:path=/run/dbus/system_bus_socket, or "
                    "off, got " +
                    shown(value));
  }
  return {};
}

Result<SystemdAttestorConfig> parseMap(const YAML::Node& node) {
  SystemdAttestorConfig config;
  if (!node.IsDefined() || node.IsNull()) {
    return config;
  }
  if (!node.IsMap()) {
    return fail(Code::InvalidArgument,
                where("settings", node) + ": want a map of settings, got " + shown(node));
  }
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return fail(Code::InvalidArgument,
                  where("settings", entry.first) + ": want a key name, got " + shown(entry.first));
    }
    LANYARD_TRY_VOID(readKey(entry.first, entry.second, config));
  }
  return config;
}

Result<SystemdAttestorConfig> parseConfig(const YAML::Node& node) {
  // yaml-cpp throws (STYLE.md §4): the reads above avoid the throwing calls, and this catch
  // keeps any that remain from escaping.
  try {
    return parseMap(node);
  } catch (const YAML::Exception& e) {
    std::string at = e.mark.line >= 0 ? " (line " + std::to_string(e.mark.line + 1) + ")" : "";
    return fail(Code::InvalidArgument, "reading settings" + at + ": " + e.msg);
  }
}

// The registered factory; only the registry reaches it (link_whole keeps it).
Result<std::unique_ptr<Attestor>> makeSystemdAttestor(const YAML::Node& node) {
  LANYARD_TRY(SystemdAttestorConfig config, parseConfig(node));
  std::unique_ptr<const UnitDirectory> units;
  if (config.dbus) {
    units = std::make_unique<SystemdBus>(config.dbusAddress);  // connects on first use
  }
  return std::unique_ptr<Attestor>(std::make_unique<SystemdAttestor>(
      [](pid_t pid) { return container::readCgroupFile(pid); }, std::move(units)));
}

}  // namespace
}  // namespace lanyard::attestors::systemd_unit

LANYARD_REGISTER_ATTESTOR("systemd", lanyard::attestors::systemd_unit::makeSystemdAttestor);
