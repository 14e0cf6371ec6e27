// SPDX-License-Identifier: Apache-2.0
// The TPM node attestor: selectors about the node itself (its endorsement key, the EK
// certificate's issuer, PCR values), taken from a quote verified locally, re-measured on an
// interval and on demand. Its selectors join every caller's (daemon/identity_provider.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "attestors/attestor.h"
#include "attestors/tpm/tpm_device.h"
#include "common/clock.h"
#include "common/result.h"

namespace lanyard::attestors::tpm {

/// `node_attestors.tpm` in the configuration (docs/tpm.md).
struct Settings {
  /// tss2 TCTI configuration.
  std::string tcti = "device:/dev/tpmrm0";
  /// SHA-256 PCRs quoted, each a tpm:pcr selector; ascending, distinct, 0..23.
  std::vector<uint32_t> pcrs = {0, 1, 2, 3, 4, 5, 6, 7};
  /// Persistent EK handle; without an object there the EK is made from the default template.
  uint32_t ekHandle = kDefaultEkHandle;
  /// PEM file of the TPM manufacturers' CA certificates (roots and intermediates); empty:
  /// no tpm:ek_cert_verified selector.
  std::string ekCaBundle{};
  /// Time between measurements.
  Seconds interval{60};
};

/// One measurement: opens the TPM, reads the EK and its certificate, quotes `pcrs` with a
/// fresh 32-byte nonce under a new attestation key, reads the PCRs, verifies the quote
/// (quote.h) and returns the selectors, sorted. Fails (nothing partial) when any step fails;
/// a missing or mismatched EK certificate only drops the certificate selectors.
Result<std::vector<Selector>> measureNode(const Settings& settings);

/// The certificate selectors for `certDer` given the EK's SubjectPublicKeyInfo: issuer CN,
/// and ek_cert_verified:true when it chains to a certificate in `caBundlePem` (empty = none).
/// NotFound / PermissionDenied when the certificate is unusable or is not the EK's.
Result<std::vector<Selector>> ekCertificateSelectors(const std::string& certDer,
                                                     const std::string& ekSpki,
                                                     const std::string& caBundlePem);

/// Keeps the node's selectors current: measures once in the constructor (so the daemon
/// starts with them), then every `interval` and whenever remeasure() is called, on a thread of
/// its own. Every measurement whose outcome differs from the last is logged ("attestor.tpm":
/// info for the first, warn when PCR values change, error when a measurement fails, which
/// withdraws every tpm selector) and handed to `onChange`. Thread-safe.
class NodeMonitor {
 public:
  using Measure = std::function<Result<std::vector<Selector>>(const Settings&)>;
  using Listener = std::function<void(const std::vector<Selector>&)>;

  NodeMonitor(Settings settings, Listener onChange, Measure measure = measureNode);
  ~NodeMonitor();
  NodeMonitor(const NodeMonitor&) = delete;
  NodeMonitor& operator=(const NodeMonitor&) = delete;

  /// Asks for a measurement now (SIGHUP); returns at once.
  void remeasure();
  /// The selectors of the last measurement (empty after a failed one).
  std::vector<Selector> current() const;
  /// How many measurements have finished (for tests).
  uint64_t measurements() const;

 private:
  void run();
  void measureOnce();

  const Settings settings_;
  const Listener onChange_;
  const Measure measure_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable wake_;
  bool stop_ = false;
  bool requested_ = false;
  std::vector<Selector> current_;
  std::optional<std::string> lastError_;
  uint64_t measurements_ = 0;
  std::thread thread_;  // last: starts after the members it reads
};

}  // namespace lanyard::attestors::tpm
