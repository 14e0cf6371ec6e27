// SPDX-License-Identifier: Apache-2.0
// ProcessAttestation: attestor fan-out and the re-check after it.
#include "daemon/process_attestation.h"

#include <string>

namespace lanyard::daemon {

Result<workload_api::Selectors> ProcessAttestation::attest(const attestors::Caller& caller,
                                                           attestors::Deadline deadline) const {
  return attestors_.attest(caller, deadline);
}

Result<uint64_t> ProcessAttestation::startTime(pid_t pid) const { return proc_->startTime(pid); }

Result<void> ProcessAttestation::confirmSameProcess(const attestors::Caller& caller,
                                                    uint64_t startTime) const {
  // Alive through the pidfd first: while it is, the pid cannot name another process, so the
  // reads below are of the caller itself.
  if (auto alive = proc_->confirmAlive(caller.pid, caller.pidfd); !alive) {
    return fail(Code::PermissionDenied, "caller exited during attestation");
  }
  if (caller.pidfd >= 0) {
    return {};  // a live pidfd pins the pid: it names the process that connected
  }
  auto now = proc_->startTime(caller.pid);
  if (!now || *now != startTime) {
    return fail(Code::PermissionDenied, "caller's pid now names another process");
  }
  return {};
}

Result<workload_api::WorkloadAttestation::ProcessStamp> ProcessAttestation::processStamp(
    const attestors::Caller& caller) const {
  auto status = proc_->status(caller.pid);
  if (!status) {
    return fail(Code::PermissionDenied,
                "re-reading caller's credentials: " + status.error().message);
  }
  auto exe = proc_->executableIdentity(caller.pid);
  if (!exe) {
    return fail(Code::PermissionDenied, "re-reading caller's executable: " + exe.error().message);
  }
  std::string key = std::to_string(status->realUid) + ' ' + std::to_string(status->effectiveUid) +
                    ' ' + std::to_string(status->realGid) + ' ' +
                    std::to_string(status->effectiveGid) + " [";
  for (gid_t g : status->supplementaryGids) {
    key += std::to_string(g) + ' ';
  }
  key += "] " + std::to_string(exe->dev) + ':' + std::to_string(exe->ino) + ':' +
         std::to_string(exe->mtimeNs) + ':' + std::to_string(exe->ctimeNs) + ':' +
         std::to_string(exe->size);
  return ProcessStamp{.uid = status->effectiveUid, .key = std::move(key)};
}

}  // namespace lanyard::daemon
