// SPDX-License-Identifier: Apache-2.0
// YAML settings of the unix attestor, validated into UnixProcessConfig, and its registration
// (STYLE.md §3, after Envoy's filters/http/buffer/config.cc).
#include <charconv>
#include <memory>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "attestors/attestor.h"
#include "attestors/registry.h"
#include "attestors/unix/proc_reader.h"
#include "attestors/unix/unix_process_attestor.h"
#include "common/result.h"

namespace lanyard::attestors::unix_process {
namespace {

constexpr const char* kKnownKeys = "discover_workload_path, workload_hash, workload_size_limit";

// "workload_hash (line 3)", or the bare key for a node built in code.
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

Result<bool> readBool(std::string_view key, const YAML::Node& node) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return fail(Code::InvalidArgument,
                where(key, node) + ": want true or false, got " + shown(node));
  }
  return value;
}

Result<uint64_t> readByteCount(std::string_view key, const YAML::Node& node) {
  uint64_t value = 0;
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc() && ptr == s.data() + s.size()) {
      return value;
    }
  }
  return fail(Code::InvalidArgument,
              where(key, node) + ": want a size in bytes (an integer >= 0; 0 = no limit), got " +
                  shown(node));
}

Result<void> readKey(const YAML::Node& keyNode, const YAML::Node& value, UnixProcessConfig& out) {
  const std::string& key = keyNode.Scalar();
  if (key == "discover_workload_path") {
    LANYARD_TRY(out.discoverWorkloadPath, readBool(key, value));
  } else if (key == "workload_hash") {
    LANYARD_TRY(out.workloadHash, readBool(key, value));
  } else if (key == "workload_size_limit") {
    LANYARD_TRY(out.workloadSizeLimit, readByteCount(key, value));
  } else {
    return fail(Code::InvalidArgument, "unknown key " + where("\"" + key + "\"", keyNode) +
                                           " (known: " + kKnownKeys + ")");
  }
  return {};
}

Result<UnixProcessConfig> parseMap(const YAML::Node& node) {
  UnixProcessConfig config;
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

// Reads the settings under `attestors: unix:` (a map, or null for the defaults). Never throws.
Result<UnixProcessConfig> parseConfig(const YAML::Node& node) {
  // yaml-cpp throws (STYLE.md §4): the reads above avoid the throwing calls, and this catch
  // keeps any that remain from escaping.
  try {
    return parseMap(node);
  } catch (const YAML::Exception& e) {
    std::string at = e.mark.line >= 0 ? " (line " + std::to_string(e.mark.line + 1) + ")" : "";
    return fail(Code::InvalidArgument, "reading settings" + at + ": " + e.msg);
  }
}

// The registered factory. Only the registry reaches it, so nothing else in a binary refers to
// this file: linking it whole is what keeps the registration (tests/attestors/registry_test.cpp).
Result<std::unique_ptr<Attestor>> makeUnixProcessAttestor(const YAML::Node& config) {
  LANYARD_TRY(UnixProcessConfig parsed, parseConfig(config));
  return std::unique_ptr<Attestor>(
      std::make_unique<UnixProcessAttestor>(parsed, std::make_unique<SystemProcReader>()));
}

}  // namespace
}  // namespace lanyard::attestors::unix_process

LANYARD_REGISTER_ATTESTOR("unix", lanyard::attestors::unix_process::makeUnixProcessAttestor);
