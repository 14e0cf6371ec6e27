// SPDX-License-Identifier: Apache-2.0
// DockerAttestor: the "docker" selectors (SPIRE's label, env and image_id) and the runtime-neutral
// "container" selectors (id, name) of a caller in a Docker or podman container, from its cgroup
// and the engine's inspect answer.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attestors/attestor.h"
#include "attestors/container/engine_api.h"
#include "common/result.h"

namespace lanyard::attestors::container {

/// The OS reads of the attestor, behind an interface so that tests can fake /proc. Const and
/// thread-safe.
class HostProcesses {
 public:
  virtual ~HostProcesses() = default;
  /// The text of /proc/<pid>/cgroup (readCgroupFile's errors).
  virtual Result<std::string> cgroup(pid_t pid) const = 0;
  /// Field 22 (starttime) of /proc/<pid>/stat: a restarted container's first process has
  /// another. NotFound when the process is gone.
  virtual Result<uint64_t> startTime(pid_t pid) const = 0;
};

/// The real HostProcesses, on /proc.
class SystemHostProcesses final : public HostProcesses {
 public:
  Result<std::string> cgroup(pid_t pid) const override;
  Result<uint64_t> startTime(pid_t pid) const override;
};

/// Parses field 22 of the text of /proc/<pid>/stat (counted after the last ')', since the
/// command name may hold spaces and parentheses). InvalidArgument when malformed.
Result<uint64_t> parseStatStartTime(std::string_view text);

/// The engines the attestor asks, by the runtime the cgroup names. Either may be null: a
/// container of that runtime then gets no selectors from this attestor.
struct Engines {
  /// For Docker containers and for containers whose cgroup names no runtime (a bare ID).
  std::unique_ptr<const EngineApi> docker;
  /// For podman containers (libpod-<id>): podman's Docker-compatible service.
  std::unique_ptr<const EngineApi> podman;
};

/// Attests callers in Docker and podman containers. Immutable after construction except for
/// its inspect cache, which is internally locked (mu_): attest() is safe from many threads.
/// Owned by the AttestorSet.
class DockerAttestor final : public Attestor {
 public:
  static constexpr std::string_view kName = "docker";
  static constexpr size_t kCacheCapacity = 1024;

  /// `cacheTtl` 0 turns the inspect cache off.
  DockerAttestor(Engines engines, std::unique_ptr<const HostProcesses> procs,
                 std::chrono::milliseconds cacheTtl);

  std::string_view name() const override { return kName; }

  /// For a caller in a Docker or podman container: docker:label:<key>:<value> per label,
  /// docker:env:<KEY=VALUE> per environment entry, docker:image_id:<image> (the image the
  /// container was created from, as SPIRE spells it), container:id:<id> and
  /// container:name:<name>. No selectors for a caller in no container or in one of another
  /// runtime (containerd, CRI-O). A container the engine does not know yet, or whose process
  /// it does not report running yet, is asked again with a growing pause until `deadline`
  /// (SPIRE #3092), then Unavailable: never a guess. An unreachable engine is Unavailable at
  /// once; an answer for another container ID is Internal.
  Result<std::vector<Selector>> attest(const Caller& caller, Deadline deadline) const override;

  /// How many inspect requests were sent (for tests and metrics).
  size_t requests() const;

 private:
  struct CacheEntry {
    ContainerInfo info;
    uint64_t initStartTime = 0;  // of info.pid, when the answer was read
    std::chrono::steady_clock::time_point fetched;
  };
  using Lru = std::list<std::pair<std::string, CacheEntry>>;  // most recent first

  Result<ContainerInfo> inspect(const EngineApi& engine, const std::string& id,
                                Deadline deadline) const;
  Result<ContainerInfo> inspectWithRetry(const EngineApi& engine, const std::string& id,
                                         Deadline deadline) const;
  std::optional<ContainerInfo> cached(const std::string& id) const;
  void remember(const std::string& id, const ContainerInfo& info, uint64_t initStartTime) const;

  const Engines engines_;
  const std::unique_ptr<const HostProcesses> procs_;
  const std::chrono::milliseconds cacheTtl_;
  mutable std::mutex mu_;  // guards lru_, index_ and requests_
  mutable Lru lru_;
  mutable std::unordered_map<std::string, Lru::iterator> index_;
  mutable size_t requests_ = 0;
};

/// The selectors of a container, as attest() returns them (sorted).
std::vector<Selector> containerSelectors(const ContainerInfo& info);

}  // namespace lanyard::attestors::container
