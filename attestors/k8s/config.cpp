// SPDX-License-Identifier: Apache-2.0
// YAML settings of the k8s attestor (SPIRE's names where SPIRE has the setting), validated
// into a KubeletEndpoint and a K8sConfig, and its registration (STYLE.md §3).
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "attestors/attestor.h"
#include "attestors/k8s/k8s_attestor.h"
#include "attestors/k8s/kubelet_client.h"
#include "attestors/k8s/pod_locator.h"
#include "attestors/registry.h"
#include "common/log.h"
#include "common/result.h"

namespace lanyard::attestors::k8s {
namespace {

constexpr const char* kKnownKeys =
    "kubelet_read_only_port, kubelet_secure_port, kubelet_host, kubelet_host_env, kubelet_ca_path, "
    "skip_kubelet_verification, token_path, node_name, node_name_env, max_poll_attempts, "
    "poll_retry_interval, pod_list_cache_ttl, max_pod_list_size";

constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

struct Settings {
  KubeletEndpoint endpoint;
  K8sConfig config;
  uint32_t readOnlyPort = 0;
  uint32_t securePort = 10250;
  std::string nodeName;
  std::string nodeNameEnv = "MY_NODE_NAME";
  std::string hostEnv;
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

Result<bool> readBool(std::string_view key, const YAML::Node& node) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return fail(Code::InvalidArgument,
                where(key, node) + ": want true or false, got " + shown(node));
  }
  return value;
}

Result<uint64_t> readInteger(std::string_view key, const YAML::Node& node, uint64_t min,
                             uint64_t max) {
  uint64_t value = 0;
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc() && ptr == s.data() + s.size() && value >= min && value <= max) {
      return value;
    }
  }
  return fail(Code::InvalidArgument, where(key, node) + ": want an integer from " +
                                         std::to_string(min) + " to " + std::to_string(max) +
                                         ", got " + shown(node));
}

Result<std::string> readString(std::string_view key, const YAML::Node& node, bool mayBeEmpty) {
  if (!node.IsScalar() || (!mayBeEmpty && node.Scalar().empty())) {
    return fail(Code::InvalidArgument, where(key, node) + ": want " +
                                           (mayBeEmpty ? "a string" : "a non-empty string") +
                                           ", got " + shown(node));
  }
  return node.Scalar();
}

// "500ms", "2s", "1m": a duration of at least 1 ms and at most an hour.
Result<std::chrono::milliseconds> readDuration(std::string_view key, const YAML::Node& node,
                                               bool mayBeZero) {
  if (node.IsScalar()) {
    std::string_view s = node.Scalar();
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    std::string_view unit(ptr, static_cast<size_t>(s.data() + s.size() - ptr));
    uint64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 0;
    if (ec == std::errc() && ptr != s.data() && scale != 0 && n <= 3600000 / scale &&
        (mayBeZero || n > 0)) {
      return std::chrono::milliseconds(n * scale);
    }
  }
  return fail(Code::InvalidArgument,
              where(key, node) + ": want a duration such as 500ms, 2s or 1m (at most 1h" +
                  (mayBeZero ? "" : ", more than 0") + "), got " + shown(node));
}

Result<void> readKey(const YAML::Node& keyNode, const YAML::Node& value, Settings& out) {
  const std::string& key = keyNode.Scalar();
  if (key == "kubelet_read_only_port") {
    LANYARD_TRY(out.readOnlyPort, readInteger(key, value, 0, 65535));
  } else if (key == "kubelet_secure_port") {
    LANYARD_TRY(out.securePort, readInteger(key, value, 1, 65535));
  } else if (key == "kubelet_host") {
    LANYARD_TRY(out.endpoint.host, readString(key, value, false));
  } else if (key == "kubelet_host_env") {
    LANYARD_TRY(out.hostEnv, readString(key, value, true));
  } else if (key == "kubelet_ca_path") {
    LANYARD_TRY(out.endpoint.caPath, readString(key, value, false));
  } else if (key == "skip_kubelet_verification") {
    LANYARD_TRY(out.endpoint.skipVerification, readBool(key, value));
  } else if (key == "token_path") {
    LANYARD_TRY(out.endpoint.tokenPath, readString(key, value, false));
  } else if (key == "node_name") {
    LANYARD_TRY(out.nodeName, readString(key, value, true));
  } else if (key == "node_name_env") {
    LANYARD_TRY(out.nodeNameEnv, readString(key, value, true));
  } else if (key == "max_poll_attempts") {
    LANYARD_TRY(out.config.maxPollAttempts, readInteger(key, value, 1, 10000));
  } else if (key == "poll_retry_interval") {
    LANYARD_TRY(out.config.pollRetryInterval, readDuration(key, value, false));
  } else if (key == "pod_list_cache_ttl") {
    LANYARD_TRY(out.config.cacheTtl, readDuration(key, value, true));
  } else if (key == "max_pod_list_size") {
    LANYARD_TRY(out.endpoint.maxResponseBytes, readInteger(key, value, 4096, uint64_t{1} << 32));
  } else {
    return fail(Code::InvalidArgument, "unknown key " + where("\"" + key + "\"", keyNode) +
                                           " (known: " + kKnownKeys + ")");
  }
  return {};
}

Result<Settings> parseMap(const YAML::Node& node) {
  Settings s;
  s.endpoint.caPath = std::string(kServiceAccountDir) + "/ca.crt";
  s.endpoint.tokenPath = std::string(kServiceAccountDir) + "/token";
  if (node.IsDefined() && !node.IsNull()) {
    if (!node.IsMap()) {
      return fail(Code::InvalidArgument,
                  where("settings", node) + ": want a map of settings, got " + shown(node));
    }
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        return fail(Code::InvalidArgument, where("settings", entry.first) +
                                               ": want a key name, got " + shown(entry.first));
      }
      LANYARD_TRY_VOID(readKey(entry.first, entry.second, s));
    }
  }
  // SPIRE: the read-only port, when set, wins over the secure port.
  s.endpoint.tls = s.readOnlyPort == 0;
  s.endpoint.port = static_cast<uint16_t>(s.endpoint.tls ? s.securePort : s.readOnlyPort);
  // In a DaemonSet the kubelet is at the node's IP (status.hostIP through the downward API).
  if (!s.hostEnv.empty()) {
    if (const char* env = std::getenv(s.hostEnv.c_str()); env != nullptr && *env != '\0') {
      s.endpoint.host = env;
    }
  }
  if (s.nodeName.empty() && !s.nodeNameEnv.empty()) {
    if (const char* env = std::getenv(s.nodeNameEnv.c_str()); env != nullptr) {
      s.nodeName = env;
    }
  }
  // The kubelet's serving certificate names the node, not the address it is reached at.
  s.endpoint.serverName = s.nodeName;
  return s;
}

Result<Settings> parseConfig(const YAML::Node& node) {
  // yaml-cpp throws (STYLE.md §4): the reads above avoid the throwing calls, and this catch
  // keeps any that remain from escaping.
  try {
    return parseMap(node);
  } catch (const YAML::Exception& e) {
    std::string at = e.mark.line >= 0 ? " (line " + std::to_string(e.mark.line + 1) + ")" : "";
    return fail(Code::InvalidArgument, "reading settings" + at + ": " + e.msg);
  }
}

// The registered factory; only the registry reaches it (linked whole, STYLE.md §2).
Result<std::unique_ptr<Attestor>> makeK8sAttestor(const YAML::Node& node) {
  LANYARD_TRY(Settings s, parseConfig(node));
  auto client = HttpKubeletClient::create(s.endpoint);
  auto logger = log::get("attestor.k8s");
  logger->info("asking the kubelet at {} (node {})", client->url(),
               s.nodeName.empty() ? "name not set" : s.nodeName);
  // The CA and token may be mounted after the agent starts: say so now, fail only when a pod
  // is attested (the client re-reads both on every fetch until they load).
  if (auto files = client->checkFiles(); !files) {
    logger->warn("{}; attestation of pods fails until it can be read", files.error().message);
  }
  return std::unique_ptr<Attestor>(std::make_unique<K8sAttestor>(
      s.config, std::move(client), std::make_unique<CgroupPodLocator>()));
}

}  // namespace
}  // namespace lanyard::attestors::k8s

LANYARD_REGISTER_ATTESTOR("k8s", lanyard::attestors::k8s::makeK8sAttestor);
