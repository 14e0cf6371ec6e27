// SPDX-License-Identifier: Apache-2.0
// YAML settings of the docker attestor (attestors: docker: {...}), validated into
// DockerAttestorConfig, and its registration (STYLE.md §3).
#include <charconv>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "attestors/attestor.h"
#include "attestors/container/docker_attestor.h"
#include "attestors/container/engine_client.h"
#include "attestors/registry.h"
#include "common/result.h"

namespace lanyard::attestors::container {
namespace {

constexpr const char* kKnownKeys =
    "docker_socket_path, podman_socket_path, cache_ttl, max_response_bytes";

struct DockerAttestorConfig {
  std::string dockerSocket = "unix:///var/run/docker.sock";
  std::string podmanSocket = "unix:///run/podman/podman.sock";  // "" = podman is not asked
  std::chrono::milliseconds cacheTtl{5000};
  uint64_t maxResponseBytes = uint64_t{4} << 20;
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

Result<std::string> readSocket(std::string_view key, const YAML::Node& node, bool mayBeEmpty) {
  if (node.IsScalar() && mayBeEmpty && node.Scalar().empty()) {
    return std::string();
  }
  if (node.IsScalar()) {
    if (auto path = engineSocketPath(node.Scalar()); !path) {
      return fail(Code::InvalidArgument, where(key, node) + ": " + path.error().message);
    }
    return node.Scalar();
  }
  return fail(Code::InvalidArgument,
              where(key, node) + ": want unix:///path/to/socket, got " + shown(node));
}

// "500ms", "5s", "1m" or "0" (no cache).
Result<std::chrono::milliseconds> readDuration(std::string_view key, const YAML::Node& node) {
  if (node.IsScalar()) {
    std::string_view s = node.Scalar();
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    std::string_view unit(ptr, static_cast<size_t>(s.data() + s.size() - ptr));
    bool ok = ec == std::errc() && n <= 3600 * 1000;
    if (ok && (unit == "ms" || (unit.empty() && n == 0))) {
      return std::chrono::milliseconds(n);
    }
    if (ok && unit == "s" && n <= 3600) {
      return std::chrono::milliseconds(n * 1000);
    }
    if (ok && unit == "m" && n <= 60) {
      return std::chrono::milliseconds(n * 60 * 1000);
    }
  }
  return fail(
      Code::InvalidArgument,
      where(key, node) + ": want a duration up to 1h such as 500ms, 5s or 0, got " + shown(node));
}

Result<uint64_t> readByteCount(std::string_view key, const YAML::Node& node) {
  uint64_t value = 0;
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc() && ptr == s.data() + s.size() && value >= 1024) {
      return value;
    }
  }
  return fail(Code::InvalidArgument,
              where(key, node) + ": want a size in bytes (an integer >= 1024), got " + shown(node));
}

Result<void> readKey(const YAML::Node& keyNode, const YAML::Node& value,
                     DockerAttestorConfig& out) {
  const std::string& key = keyNode.Scalar();
  if (key == "docker_socket_path") {
    LANYARD_TRY(out.dockerSocket, readSocket(key, value, false));
  } else if (key == "podman_socket_path") {
    LANYARD_TRY(out.podmanSocket, readSocket(key, value, true));
  } else if (key == "cache_ttl") {
    LANYARD_TRY(out.cacheTtl, readDuration(key, value));
  } else if (key == "max_response_bytes") {
    LANYARD_TRY(out.maxResponseBytes, readByteCount(key, value));
  } else {
    return fail(Code::InvalidArgument, "unknown key " + where("\"" + key + "\"", keyNode) +
                                           " (known: " + kKnownKeys + ")");
  }
  return {};
}

Result<DockerAttestorConfig> parseMap(const YAML::Node& node) {
  DockerAttestorConfig config;
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

Result<DockerAttestorConfig> parseConfig(const YAML::Node& node) {
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
Result<std::unique_ptr<Attestor>> makeDockerAttestor(const YAML::Node& node) {
  LANYARD_TRY(DockerAttestorConfig config, parseConfig(node));
  Engines engines;
  LANYARD_TRY(engines.docker,
              UnixEngineClient::create(config.dockerSocket, config.maxResponseBytes));
  if (!config.podmanSocket.empty()) {
    LANYARD_TRY(engines.podman,
                UnixEngineClient::create(config.podmanSocket, config.maxResponseBytes));
  }
  return std::unique_ptr<Attestor>(std::make_unique<DockerAttestor>(
      std::move(engines), std::make_unique<SystemHostProcesses>(), config.cacheTtl));
}

}  // namespace
}  // namespace lanyard::attestors::container

LANYARD_REGISTER_ATTESTOR("docker", lanyard::attestors::container::makeDockerAttestor);
