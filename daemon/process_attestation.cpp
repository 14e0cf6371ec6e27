// SPDX-License-Identifier: Apache-2.0
// ProcessAttestation: attestor fan-out and the re-check after it.
#include "daemon/process_attestation.h"

#include <chrono>
#include <string>
#include <vector>

namespace lanyard::daemon {

namespace {

// Attestation reads /proc (tens of microseconds) or asks a container runtime or a TPM
// (milliseconds to seconds, bounded by the 5 s deadline).
const std::vector<double> kAttestationBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

}  // namespace

ProcessAttestation::ProcessAttestation(attestors::AttestorSet attestors,
                                       std::unique_ptr<attestors::unix_process::ProcReader> proc,
                                       metrics::Registry& metrics)
    : attestors_(std::move(attestors)),
      proc_(std::move(proc)),
      duration_(metrics
                    .histogram("lanyard_attestation_duration_seconds",
                               "Time to attest a Workload API caller with every configured "
                               "attestor (a reused attestation is not counted)",
                               {}, kAttestationBuckets)
                    .with()),
      attestorErrors_(metrics.counter("lanyard_attestor_errors_total",
                                      "Attestations in which an attestor failed, by attestor",
                                      {"attestor"})) {
  for (const auto& name : attestors_.names()) {
    attestorErrors_.with({name});  // listed at 0 from the start
  }
}

Result<workload_api::Selectors> ProcessAttestation::attest(const attestors::Caller& caller,
                                                           attestors::Deadline deadline) const {
  const auto started = std::chrono::steady_clock::now();
  auto selectors = attestors_.attest(caller, deadline, [this](std::string_view attestor) {
    attestorErrors_.with({std::string(attestor)}).inc();
  });
  duration_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return selectors;
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
