// SPDX-License-Identifier: Apache-2.0
// TpmSigningKey: an ECDSA P-256 signing key created inside a TPM 2.0 under its storage root
// key, never exportable (fixedTPM, fixedParent); only the TPM-wrapped blob is kept on disk.
// The upstream key of `authority.upstream: tpm` (docs/tpm.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/openssl.h"
#include "common/result.h"

namespace lanyard::svid {

class TpmSigningKey {
 public:
  /// Reads the wrapped key at `blobPath` (marshalled TPM2B_PUBLIC then TPM2B_PRIVATE), or,
  /// when the file does not exist, creates a new key in the TPM reached through `tcti` and
  /// writes its blob there (0600, atomically). The key is loaded and checked once (a test
  /// signature) before this returns. Unavailable when the TPM cannot be reached,
  /// FailedPrecondition when the blob is not a key of this TPM (another TPM, a cleared owner
  /// hierarchy) or not one this daemon made.
  static Result<std::unique_ptr<TpmSigningKey>> loadOrCreate(const std::string& tcti,
                                                             const std::string& blobPath);

  /// The public half.
  EVP_PKEY* publicKey() const { return public_.get(); }

  /// DER ECDSA-Sig-Value over SHA-256(`data`), made by the TPM: opens the TPM, loads the key
  /// under a freshly derived storage root key, signs, flushes both. Thread-safe (each call
  /// has its own TPM connection).
  Result<std::string> sign(std::string_view data) const;

 private:
  TpmSigningKey(std::string tcti, std::string blob, ossl::UniquePtr<EVP_PKEY> pub)
      : tcti_(std::move(tcti)), blob_(std::move(blob)), public_(std::move(pub)) {}

  const std::string tcti_;
  const std::string blob_;
  const ossl::UniquePtr<EVP_PKEY> public_;
};

}  // namespace lanyard::svid
