// SPDX-License-Identifier: Apache-2.0
// TpmDevice: the few TPM 2.0 commands the node attestor needs, through the tss2 ESYS library
// and a TCTI ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321"). What it returns is raw
// TPM output: quote.h verifies it before anything is believed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attestors/tpm/quote.h"
#include "common/result.h"

namespace lanyard::attestors::tpm {

/// The persistent handle of the RSA 2048 EK (TCG EK Credential Profile 2.0 §2.2.1.4), and the
/// NV index of its certificate (§2.2.1.5.1).
inline constexpr uint32_t kDefaultEkHandle = 0x81010001;
inline constexpr uint32_t kRsaEkCertIndex = 0x01c00002;

/// One open connection to a TPM. Not thread-safe; the owner uses it from one thread. Every
/// transient object and session it creates is flushed before the call that made it returns
/// (a TPM has only a few slots), and the connection is closed by the destructor.
class TpmDevice {
 public:
  /// Opens the TCTI named by `tcti` (tss2's own syntax: "device:/dev/tpmrm0",
  /// "swtpm:host=H,port=P", "mssim:..."). Unavailable when it cannot be opened.
  static Result<std::unique_ptr<TpmDevice>> open(const std::string& tcti);
  ~TpmDevice();
  TpmDevice(const TpmDevice&) = delete;
  TpmDevice& operator=(const TpmDevice&) = delete;

  /// The endorsement key's public area (marshalled TPMT_PUBLIC): the persistent object at
  /// `ekHandle` when there is one, else the EK made afresh from the default RSA 2048 template
  /// (the same key: primary keys derive from the endorsement seed).
  Result<std::string> ekPublic(uint32_t ekHandle);

  /// The DER certificate in NV index `index`; NotFound when the index is not defined.
  Result<std::string> readNvCertificate(uint32_t index);

  /// Creates a restricted ECDSA P-256 signing key (the attestation key, AK) under the EK,
  /// quotes the SHA-256 bank's `pcrs` with `nonce` as qualifying data, and flushes the AK.
  /// Returns the AK's public area (marshalled TPMT_PUBLIC) and the quote.
  struct AkQuote {
    std::string akPublic;
    Quote quote;
  };
  Result<AkQuote> quote(uint32_t ekHandle, const std::vector<uint32_t>& pcrs,
                        const std::string& nonce);

  /// The current values of the SHA-256 bank's `pcrs` (ascending).
  Result<PcrValues> readPcrs(const std::vector<uint32_t>& pcrs);

 private:
  struct Impl;
  explicit TpmDevice(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lanyard::attestors::tpm
