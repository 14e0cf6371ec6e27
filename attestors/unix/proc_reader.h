// SPDX-License-Identifier: Apache-2.0
// ProcReader: the operating-system reads the unix attestor needs (/proc, the passwd and group
// databases, pidfds), behind an interface so that tests can fake them (STYLE.md §3).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace lanyard::attestors::unix_process {

/// The credentials of a process, from the Uid:, Gid: and Groups: lines of /proc/<pid>/status.
struct ProcessStatus {
  uid_t realUid = 0;
  uid_t effectiveUid = 0;
  gid_t realGid = 0;
  gid_t effectiveGid = 0;
  std::vector<gid_t> supplementaryGids;
};

/// What identifies one version of a file's contents: any write changes ctime, which (unlike
/// mtime) cannot be set back from user space, so a rewrite that restores mtime and size still
/// gets a new key.
struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t mtimeNs = 0;
  int64_t ctimeNs = 0;
  uint64_t size = 0;

  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

/// Where a process's executable lives, from readlink(/proc/<pid>/exe). When the file has been
/// unlinked since the process started, the kernel appends " (deleted)": `path` then has that
/// suffix removed and `deleted` is true.
struct ExecutablePath {
  std::string path;
  bool deleted = false;
};

/// An open executable image, read once from its start. Owned by the caller of
/// ProcReader::openExecutable; used by one thread.
class ExecutableFile {
 public:
  virtual ~ExecutableFile() = default;
  /// The identity of the open file (fstat of the same descriptor that is read).
  virtual const FileIdentity& identity() const = 0;
  /// Reads up to out.size() bytes; 0 at end of file.
  virtual Result<size_t> read(std::span<unsigned char> out) = 0;
};

/// The OS reads of the unix attestor, which owns its reader. Every method is const and
/// thread-safe. Errors use
/// NotFound when the process no longer exists and PermissionDenied when the agent may not look,
/// with messages naming the file ("reading /proc/42/exe: permission denied").
class ProcReader {
 public:
  virtual ~ProcReader() = default;

  /// Real and effective uid and gid and the supplementary groups of `pid`.
  virtual Result<ProcessStatus> status(pid_t pid) const = 0;
  /// The executable's path as the kernel records it.
  virtual Result<ExecutablePath> executablePath(pid_t pid) const = 0;
  /// The identity of the file the process runs (stat of /proc/<pid>/exe): changes when the
  /// process execs another program. Unimplemented unless a reader provides it.
  virtual Result<FileIdentity> executableIdentity(pid_t pid) const;
  /// Opens the executable the process runs (even when unlinked or in another mount namespace).
  virtual Result<std::unique_ptr<ExecutableFile>> openExecutable(pid_t pid) const = 0;
  /// The user name of `uid`, or nullopt when it has none (or the lookup failed).
  virtual std::optional<std::string> userName(uid_t uid) const = 0;
  /// The group name of `gid`, or nullopt when it has none (or the lookup failed).
  virtual std::optional<std::string> groupName(gid_t gid) const = 0;
  /// The process's start time in clock ticks after boot (field 22 of /proc/<pid>/stat); a
  /// recycled pid has a different one.
  virtual Result<uint64_t> startTime(pid_t pid) const = 0;
  /// Confirms the process the caller connected with still exists, so that what was read under
  /// /proc/<pid> was read from it. With a pidfd (>= 0) this is exact: a pid cannot be reused
  /// while a process (even a zombie) holds it, and the pidfd names that process. Without one
  /// only the pid can be checked, which is why the attestor also compares start times.
  virtual Result<void> confirmAlive(pid_t pid, int pidfd) const = 0;
};

/// The real ProcReader: /proc, getpwuid_r/getgrgid_r and pidfd_send_signal.
class SystemProcReader final : public ProcReader {
 public:
  Result<ProcessStatus> status(pid_t pid) const override;
  Result<ExecutablePath> executablePath(pid_t pid) const override;
  Result<FileIdentity> executableIdentity(pid_t pid) const override;
  Result<std::unique_ptr<ExecutableFile>> openExecutable(pid_t pid) const override;
  std::optional<std::string> userName(uid_t uid) const override;
  std::optional<std::string> groupName(gid_t gid) const override;
  Result<uint64_t> startTime(pid_t pid) const override;
  Result<void> confirmAlive(pid_t pid, int pidfd) const override;
};

/// Parses the text of /proc/<pid>/status (the Uid:, Gid: and Groups: lines). InvalidArgument
/// when a line is missing or malformed.
Result<ProcessStatus> parseProcStatus(std::string_view text);

/// Parses field 22 (starttime) of the text of /proc/<pid>/stat. Field 2 is the command name in
/// parentheses and may itself hold spaces and ')', so fields are counted from the last ')'.
Result<uint64_t> parseProcStartTime(std::string_view text);

}  // namespace lanyard::attestors::unix_process
