// SPDX-License-Identifier: Apache-2.0
// UnixProcessAttestor: the "unix" selectors of a calling process (uid, user, gid, group,
// supplementary groups, executable path and SHA-256), after SPIRE's unix workload attestor.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "attestors/attestor.h"
#include "attestors/unix/digest_cache.h"
#include "attestors/unix/proc_reader.h"
#include "common/result.h"

namespace lanyard::attestors::unix_process {

/// The unix attestor's settings, already validated (config.cpp reads them from YAML).
struct UnixProcessConfig {
  /// Emit unix:path (SPIRE's discover_workload_path). Needs the agent to read /proc/<pid>/exe:
  /// root, CAP_SYS_PTRACE or the workload's own uid.
  bool discoverWorkloadPath = true;
  /// Emit unix:sha256 of the executable (same permission, plus read access to the file).
  bool workloadHash = true;
  /// Executables larger than this are not hashed and attestation fails, as in SPIRE
  /// (workload_size_limit); 0, SPIRE's default, means no limit. A limit by default made the
  /// debug builds of our own CLI (150 MB, mostly debug info) unattestable.
  uint64_t workloadSizeLimit = 0;
};

/// Attests a caller from its socket credentials and /proc. Immutable after construction except
/// for its digest cache, which is internally locked: attest() is safe from many threads.
/// Owned by the AttestorSet.
class UnixProcessAttestor final : public Attestor {
 public:
  static constexpr std::string_view kName = "unix";

  UnixProcessAttestor(UnixProcessConfig config, std::unique_ptr<const ProcReader> reader,
                      size_t digestCacheEntries = DigestCache::kDefaultCapacity);

  std::string_view name() const override { return kName; }

  /// Selectors, in SPIRE's spelling: uid:N and gid:N from the socket (cross-checked against
  /// /proc), user:NAME and group:NAME when they resolve, supplementary_gid:N and
  /// supplementary_group:NAME per supplementary group, path:EXE (not for an executable that
  /// was unlinked since it started) and sha256:HEX. A process that exits meanwhile fails with
  /// Unavailable "attesting pid N: process exited".
  Result<std::vector<Selector>> attest(const Caller& caller, Deadline deadline) const override;

  /// How many executables were read and hashed so far (cache misses).
  size_t hashes() const { return digests_.hashes(); }

 private:
  Result<std::vector<Selector>> collect(const Caller& caller, Deadline deadline) const;
  Result<void> checkCredentials(const Caller& caller, const ProcessStatus& status) const;
  void addIdentitySelectors(const Caller& caller, const ProcessStatus& status,
                            std::vector<Selector>& out) const;
  Result<void> addExecutableSelectors(pid_t pid, Deadline deadline,
                                      std::vector<Selector>& out) const;
  Result<std::string> executableDigest(pid_t pid, Deadline deadline) const;

  const UnixProcessConfig config_;
  const std::unique_ptr<const ProcReader> reader_;
  mutable DigestCache digests_;  // internally locked; the only state that changes
};

}  // namespace lanyard::attestors::unix_process
