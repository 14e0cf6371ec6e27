// SPDX-License-Identifier: Apache-2.0
// The Attestor interface: turns a caller (pid, uid, gid from the socket) into selectors
// (STYLE.md §3).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/result.h"

namespace lanyard::attestors {

/// The time by which an attestation must be done.
using Deadline = std::chrono::steady_clock::time_point;

/// One fact about a workload: `type` names the attestor ("unix"), `value` is what it saw
/// ("uid:1000"). Written as "unix:uid:1000" in entries (DESIGN.md §4).
struct Selector {
  std::string type;
  std::string value;

  /// "type:value", as entries spell it.
  std::string str() const;

  friend bool operator==(const Selector&, const Selector&) = default;
  friend bool operator<(const Selector& a, const Selector& b) {
    return a.type != b.type ? a.type < b.type : a.value < b.value;
  }
};

/// Parses "unix:uid:1000" into {"unix", "uid:1000"}: the type is the text before the first ':',
/// the value the rest; both must be non-empty (InvalidArgument otherwise).
Result<Selector> parseSelector(std::string_view text);

/// Who called, as the kernel reported it on the socket (SO_PEERCRED); the socket is the
/// authority for uid and gid. `pidfd` refers to the same process and is -1 when none could be
/// opened; it is borrowed for the call, never closed by an attestor.
struct Caller {
  pid_t pid = -1;
  uid_t uid = 0;
  gid_t gid = 0;
  int pidfd = -1;
};

/// A workload attestor. Built once from configuration by its factory, then immutable:
/// attest() is const and safe to call from many threads at once.
class Attestor {
 public:
  virtual ~Attestor() = default;

  /// The registered name, which is also the type of the selectors it returns ("unix"); the
  /// runtime-neutral "container" type (container:id, container:name) is the one exception,
  /// which any attestor that knows the caller's container may return.
  virtual std::string_view name() const = 0;

  /// Blocks at most until `deadline`; never throws; empty vector = nothing to say.
  virtual Result<std::vector<Selector>> attest(const Caller& caller, Deadline deadline) const = 0;
};

/// Builds an attestor from its YAML settings (a map, or null when the settings are empty).
/// Bad settings fail with InvalidArgument naming the key.
using Factory = Result<std::unique_ptr<Attestor>> (*)(const YAML::Node& config);

}  // namespace lanyard::attestors
