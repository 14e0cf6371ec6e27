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
  auto now = proc_->startTime(caller.pid);
  if (!now || *now != startTime) {
    return fail(Code::PermissionDenied, "caller's pid now names another process");
  }
  auto status = proc_->status(caller.pid);
  if (!status) {
    return fail(Code::PermissionDenied,
                "re-reading caller's credentials: " + status.error().message);
  }
  if (status->effectiveUid != caller.uid) {
    return fail(Code::PermissionDenied, "caller changed uid from " + std::to_string(caller.uid) +
                                            " to " + std::to_string(status->effectiveUid) +
                                            " since it connected");
  }
  return {};
}

}  // namespace lanyard::daemon
