// SPDX-License-Identifier: Apache-2.0
// The unix attestor's logic: credentials from the socket checked against /proc, names, and the
// executable's path and digest (SPIRE pkg/agent/plugin/workloadattestor/unix/unix_posix.go).
#include "attestors/unix/unix_process_attestor.h"

#include <chrono>
#include <string>

#include "common/log.h"

namespace lanyard::attestors::unix_process {
namespace {

Selector selector(std::string_view key, const std::string& value) {
  return Selector{std::string(UnixProcessAttestor::kName), std::string(key) + ":" + value};
}

// Turns a ProcReader error into the attestor's: a vanished process and a denied read are both
// Unavailable (the workload may retry; the operator can fix permissions), with one wording.
Error describe(pid_t pid, const Error& e) {
  const std::string context = "attesting pid " + std::to_string(pid);
  switch (e.code) {
    case Code::NotFound:
      return Error{Code::Unavailable, context + ": process exited"};
    case Code::PermissionDenied:
      return Error{Code::Unavailable,
                   context + ": " + e.message +
                       " (the agent needs root or CAP_SYS_PTRACE to inspect another user's "
                       "process)"};
    default:
      return e.wrap(context);
  }
}

std::string joined(const std::vector<Selector>& selectors) {
  std::string out;
  for (const auto& s : selectors) {
    out += (out.empty() ? "" : " ") + s.str();
  }
  return out;
}

}  // namespace

UnixProcessAttestor::UnixProcessAttestor(UnixProcessConfig config,
                                         std::unique_ptr<const ProcReader> reader,
                                         size_t digestCacheEntries)
    : config_(config), reader_(std::move(reader)), digests_(digestCacheEntries) {
  LANYARD_ASSERT(reader_ != nullptr, "the unix attestor needs a ProcReader");
}

Result<std::vector<Selector>> UnixProcessAttestor::attest(const Caller& caller,
                                                          Deadline deadline) const {
  auto selectors = collect(caller, deadline);
  if (!selectors) {
    return fail(describe(caller.pid, selectors.error()));
  }
  auto logger = log::get("attestor.unix");
  if (logger->should_log(spdlog::level::debug)) {
    logger->debug("pid {}: {}", caller.pid, joined(*selectors));
  }
  return selectors;
}

Result<std::vector<Selector>> UnixProcessAttestor::collect(const Caller& caller,
                                                           Deadline deadline) const {
  if (std::chrono::steady_clock::now() >= deadline) {
    return fail(Code::DeadlineExceeded, "deadline passed before attestation started");
  }
  // The start time brackets every /proc read: if the pid were reused in between, the reads
  // could describe another process (DESIGN.md §1, "PID race").
  LANYARD_TRY(uint64_t started, reader_->startTime(caller.pid));
  LANYARD_TRY(ProcessStatus status, reader_->status(caller.pid));
  LANYARD_TRY_VOID(checkCredentials(caller, status));

  std::vector<Selector> out;
  addIdentitySelectors(caller, status, out);
  LANYARD_TRY_VOID(addExecutableSelectors(caller.pid, deadline, out));

  // Everything above was read from /proc/<pid>; it belongs to the caller only if the caller
  // still holds that pid now. The pidfd makes that exact; the start time covers the case
  // without one (and a pid reused between connect and the first read shows up as a
  // credential mismatch or is caught by the pidfd).
  LANYARD_TRY_VOID(reader_->confirmAlive(caller.pid, caller.pidfd));
  LANYARD_TRY(uint64_t startedAfter, reader_->startTime(caller.pid));
  if (startedAfter != started) {
    return fail(Code::NotFound, "pid reused during attestation");
  }
  return out;
}

Result<void> UnixProcessAttestor::checkCredentials(const Caller& caller,
                                                   const ProcessStatus& status) const {
  // SO_PEERCRED reports the effective ids at connect(); they are authoritative. /proc must
  // agree, or the pid now names another process (or the caller changed identity since it
  // connected, which also voids what the socket said).
  if (status.effectiveUid == caller.uid && status.effectiveGid == caller.gid) {
    return {};
  }
  return fail(Code::Unavailable, "process credentials differ from the socket's (socket uid " +
                                     std::to_string(caller.uid) + " gid " +
                                     std::to_string(caller.gid) + ", /proc uid " +
                                     std::to_string(status.effectiveUid) + " gid " +
                                     std::to_string(status.effectiveGid) +
                                     "): the pid was reused or the process changed identity");
}

void UnixProcessAttestor::addIdentitySelectors(const Caller& caller, const ProcessStatus& status,
                                               std::vector<Selector>& out) const {
  // Names only when they resolve, as SPIRE does: an entry can always use the number.
  out.push_back(selector("uid", std::to_string(caller.uid)));
  if (auto user = reader_->userName(caller.uid)) {
    out.push_back(selector("user", *user));
  }
  out.push_back(selector("gid", std::to_string(caller.gid)));
  if (auto group = reader_->groupName(caller.gid)) {
    out.push_back(selector("group", *group));
  }
  for (gid_t gid : status.supplementaryGids) {
    out.push_back(selector("supplementary_gid", std::to_string(gid)));
    if (auto group = reader_->groupName(gid)) {
      out.push_back(selector("supplementary_group", *group));
    }
  }
}

Result<void> UnixProcessAttestor::addExecutableSelectors(pid_t pid, Deadline deadline,
                                                         std::vector<Selector>& out) const {
  if (config_.discoverWorkloadPath) {
    LANYARD_TRY(ExecutablePath exe, reader_->executablePath(pid));
    if (exe.deleted) {
      // The file at that path is no longer what runs (typically a package upgrade), so an entry
      // naming the path must not match; sha256 still describes the running image.
      log::get("attestor.unix")
          ->debug("pid {}: executable {} was deleted, no path selector", pid, exe.path);
    } else {
      out.push_back(selector("path", exe.path));
    }
  }
  if (config_.workloadHash) {
    LANYARD_TRY(std::string hex, executableDigest(pid, deadline));
    out.push_back(selector("sha256", hex));
  }
  return {};
}

Result<std::string> UnixProcessAttestor::executableDigest(pid_t pid, Deadline deadline) const {
  LANYARD_TRY(auto file, reader_->openExecutable(pid));
  const uint64_t size = file->identity().size;
  if (config_.workloadSizeLimit != 0 && size > config_.workloadSizeLimit) {
    // SPIRE (util.GetSHA256Digest) fails the attestation rather than leave the digest out;
    // doing the same keeps a configuration moved over from SPIRE behaving the same.
    return fail(Code::FailedPrecondition, "executable is " + std::to_string(size) +
                                              " bytes, over workload_size_limit " +
                                              std::to_string(config_.workloadSizeLimit));
  }
  return digests_.digest(*file, deadline);
}

}  // namespace lanyard::attestors::unix_process
