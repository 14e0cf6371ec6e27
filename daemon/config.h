// SPDX-License-Identifier: Apache-2.0
// The daemon's configuration: the YAML file's keys (DESIGN.md §4, docs/configuration.md), its
// validation, and the embedded default used when lanyardd runs without --config (§6).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/result.h"
#include "daemon/entry.h"
#include "svid/authority.h"
#include "svid/spiffe_id.h"

namespace lanyard::daemon {

/// Where a file-less configuration puts things: socket_path and data_dir when a key is absent.
inline constexpr std::string_view kDefaultSocketPath = "/run/lanyard/agent.sock";
inline constexpr std::string_view kDefaultDataDir = "/var/lib/lanyard";
/// Longest socket path a sockaddr_un can hold (sun_path is 108 bytes with its NUL).
inline constexpr size_t kMaxSocketPathLength = 107;
/// health.listen's value that disables the health and metrics listener.
inline constexpr std::string_view kHealthListenOff = "off";

/// `node_attestors.tpm`: TPM node attestation (docs/tpm.md), whose selectors join every
/// caller's. Plain values, so that daemon/ config does not depend on attestors/.
struct TpmNodeConfig {
  /// tss2 TCTI configuration ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321").
  std::string tcti{"device:/dev/tpmrm0"};
  /// SHA-256 PCRs quoted, ascending and distinct (0..23).
  std::vector<uint32_t> pcrs{0, 1, 2, 3, 4, 5, 6, 7};
  /// Persistent handle of the endorsement key.
  uint32_t ekHandle = 0x81010001;
  /// PEM bundle of TPM manufacturer CA certificates; empty: no tpm:ek_cert_verified.
  std::string ekCaBundle{};
  /// Time between measurements (also taken on SIGHUP).
  Seconds remeasureInterval{60};

  friend bool operator==(const TpmNodeConfig&, const TpmNodeConfig&) = default;
};

/// A validated configuration. Plain value type, built only by parseConfig()/loadConfig()/
/// embeddedDefault() (TrustDomain has no default). Paths are absolute. `authority.trustDomain`
/// and `authority.dataDir` equal `trustDomain` and `dataDir`. `attestors` shares its tree with
/// every copy of the Config: treat it as read-only (yaml-cpp's Node::operator= writes through
/// to every copy).
struct Config {
  svid::TrustDomain trustDomain;
  /// The Workload API socket.
  std::string socketPath{kDefaultSocketPath};
  /// CA state (AuthorityConfig::dataDir).
  std::string dataDir{kDefaultDataDir};
  /// debug | info | warn | error (log::configure()).
  std::string logLevel{"info"};
  log::Format logFormat = log::Format::Text;
  /// Default SVID lifetimes; an entry may override them.
  Seconds x509SvidTtl{3600};
  Seconds jwtSvidTtl{300};
  svid::AuthorityConfig authority{.trustDomain = trustDomain, .dataDir = dataDir};
  /// host:port of the /live, /ready and /metrics listener, or kHealthListenOff.
  std::string healthListen{"127.0.0.1:8089"};
  /// The `attestors:` map as written (name → that attestor's own config, map or null), for
  /// the attestor registry's factories to check. An empty map means "unix alone".
  YAML::Node attestors{YAML::NodeType::Map};
  /// `node_attestors.tpm`; none when the TPM is not used.
  std::optional<TpmNodeConfig> tpm{};
  std::vector<RegistrationEntry> entries{};
};

/// Parses and validates configuration text. `sourceName` names it in errors
/// ("config.yaml:12: entries[3].spiffe_id: path segment \"..\" is not allowed") and its
/// directory is where relative paths (socket_path, data_dir, authority.disk.*) resolve; a
/// relative `sourceName` is taken from the current directory. Fails closed with
/// InvalidArgument on anything unknown, mistyped or invalid; never throws. Safe to call with
/// any bytes (fuzzing entry point). Thread-safe.
Result<Config> parseConfig(std::string_view yamlText, const std::string& sourceName);

/// Reads `path` (at most 1 MiB) and parseConfig()s it; NotFound/PermissionDenied/... naming
/// the file when it cannot be read.
Result<Config> loadConfig(const std::string& path);

/// The per-user directories the embedded default uses, read from the environment.
struct UserDirs {
  /// $XDG_DATA_HOME, $XDG_RUNTIME_DIR and $HOME; empty when unset or not absolute.
  std::string xdgDataHome{};
  std::string xdgRuntimeDir{};
  std::string home{};
};

/// $XDG_DATA_HOME, $XDG_RUNTIME_DIR and $HOME, or the password database's home for `uid` when
/// $HOME is unset.
UserDirs userDirsFromEnvironment(uid_t uid);

/// The configuration lanyardd uses without --config (DESIGN.md §6): trust domain example.org,
/// a self-signed CA in $XDG_DATA_HOME/lanyard (else ~/.local/share/lanyard, else
/// /tmp/lanyard-<uid>/data), the socket at $XDG_RUNTIME_DIR/lanyard/agent.sock (else
/// /tmp/lanyard-<uid>/agent.sock), and one entry spiffe://example.org/uid/<uid> for
/// selector unix:uid:<uid>. Its health listener takes a free port on 127.0.0.1 (logged).
Config embeddedDefault(uid_t uid, const UserDirs& dirs);
/// embeddedDefault(uid, userDirsFromEnvironment(uid)).
Config embeddedDefault(uid_t uid);

/// The configuration as YAML that parseConfig() reads back to an equal Config (every key
/// written, durations in their shortest form). Used by `lanyard config check` and tests.
std::string toYaml(const Config& config);

}  // namespace lanyard::daemon
