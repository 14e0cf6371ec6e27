// SPDX-License-Identifier: Apache-2.0
// ProcessAttestation: the daemon's WorkloadAttestation — the configured attestors, plus the
// /proc checks that pin a caller to the process that connected (the PID race).
#pragma once

#include <memory>

#include "attestors/attestor_set.h"
#include "attestors/unix/proc_reader.h"
#include "common/metrics.h"
#include "workload_api/workload_attestation.h"

namespace lanyard::daemon {

/// Owns the attestor set and a /proc reader; records attestation latency and per-attestor
/// failures in `metrics` (borrowed for its lifetime; docs/metrics.md). Immutable; thread-safe.
class ProcessAttestation final : public workload_api::WorkloadAttestation {
 public:
  ProcessAttestation(attestors::AttestorSet attestors,
                     std::unique_ptr<attestors::unix_process::ProcReader> proc,
                     metrics::Registry& metrics);

  Result<workload_api::Selectors> attest(const attestors::Caller& caller,
                                         attestors::Deadline deadline) const override;
  Result<uint64_t> startTime(pid_t pid) const override;
  Result<void> confirmSameProcess(const attestors::Caller& caller,
                                  uint64_t startTime) const override;
  Result<ProcessStamp> processStamp(const attestors::Caller& caller) const override;

  const attestors::AttestorSet& attestors() const { return attestors_; }

 private:
  const attestors::AttestorSet attestors_;
  const std::unique_ptr<attestors::unix_process::ProcReader> proc_;
  metrics::Histogram& duration_;
  metrics::Family<metrics::Counter>& attestorErrors_;
};

}  // namespace lanyard::daemon
