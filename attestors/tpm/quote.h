// SPDX-License-Identifier: Apache-2.0
// Verification of a TPM 2.0 quote without the TPM: the attestation structure, its signature,
// the nonce and the PCR digest (TPM 2.0 Part 2 §10.12 TPMS_ATTEST, §10.12.1 TPMS_QUOTE_INFO).
// Nothing a TPM reported is trusted before verifyQuote() accepted it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace lanyard::attestors::tpm {

/// A quote as the TPM returned it, both parts in TPM wire format (big-endian, marshalled).
struct Quote {
  /// TPMS_ATTEST: the bytes the TPM signed (the buffer of the TPM2B_ATTEST).
  std::string attest;
  /// TPMT_SIGNATURE over SHA-256(attest).
  std::string signature;
};

/// PCR values of the SHA-256 bank: `indexes` ascending and distinct (0..23), `values[i]` the
/// 32-byte digest of PCR indexes[i].
struct PcrValues {
  std::vector<uint32_t> indexes;
  std::vector<std::string> values;
};

/// The public key in a marshalled TPMT_PUBLIC (RSA or ECC NIST P-256/P-384), as an EVP_PKEY.
/// An RSA exponent of 0 means 65537 (TPM 2.0 Part 2 §12.2.3.5). InvalidArgument for anything
/// else: other curves, symmetric objects, trailing bytes.
Result<ossl::UniquePtr<EVP_PKEY>> publicKeyFromTpmt(std::string_view tpmtPublic);

/// DER SubjectPublicKeyInfo of `key` (what `tpm2_readpublic -f der` writes).
Result<std::string> subjectPublicKeyInfo(EVP_PKEY* key);

/// SHA-256 of the PCR values concatenated in index order: what a quote's pcrDigest must be.
std::string pcrDigest(const PcrValues& pcrs);

/// Accepts the quote when every check holds, else PermissionDenied naming the first that did
/// not: the structure parses with nothing left over; magic is TPM_GENERATED_VALUE (the TPM made
/// it, not a caller of TPM2_Sign); the type is a quote; extraData equals `nonce`; the PCR
/// selection is exactly the SHA-256 bank with `pcrs.indexes`; pcrDigest equals
/// pcrDigest(pcrs); and the signature (ECDSA or RSASSA, SHA-256) verifies with `ak`.
Result<void> verifyQuote(const Quote& quote, EVP_PKEY* ak, std::string_view nonce,
                         const PcrValues& pcrs);

/// Lowercase hex of `bytes`.
std::string hex(std::string_view bytes);

}  // namespace lanyard::attestors::tpm
