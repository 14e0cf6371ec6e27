// SPDX-License-Identifier: Apache-2.0
// Certificate fields shared by CA and leaf minting: serials, names, validity, extensions
// (X509-3, X509-4, X509-5, X509-11, X509-12). Internal to svid/.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/openssl.h"
#include "common/result.h"

namespace lanyard::svid::x509fields {

/// Sets a random positive 128-bit serial (X509-11: positive, ≤ 20 octets; SPIRE uses 128 bits).
Result<void> setRandomSerial(X509* cert);

/// Builds a Subject/Issuer DN from (attribute, value) pairs such as {"C","US"},{"O","SPIFFE"}.
Result<ossl::UniquePtr<X509_NAME>> makeName(
    std::initializer_list<std::pair<const char*, std::string>> rdns);

/// Sets notBefore/notAfter.
Result<void> setValidity(X509* cert, SysTime notBefore, SysTime notAfter);

/// Reads notBefore/notAfter as SysTime.
SysTime notBefore(const X509* cert);
SysTime notAfter(const X509* cert);

/// Sets the public key. For EC keys the encoded point is set directly with
/// X509_PUBKEY_set0_param, which in OpenSSL 3.0 is ~170 µs cheaper than X509_set_pubkey
/// (DESIGN.md §7). Returns the subjectPublicKey bytes (for the key identifier).
Result<std::string> setPublicKey(X509* cert, EVP_PKEY* key);

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bit string.
Result<std::string> keyIdentifier(std::string_view subjectPublicKey);

/// The key identifier a certificate issued by `issuer` must carry as its AKI: the issuer's own
/// SKI when it has one (CAs use several SKI methods), else computed with keyIdentifier()
/// (X509-12). InvalidArgument when neither is available.
Result<std::string> authorityKeyIdFor(X509* issuer);

/// The subjectPublicKey bytes of an existing certificate.
std::string subjectPublicKeyBytes(const X509* cert);

/// Appends an already-encoded extension (X509_add_ext copies it).
Result<void> addExtension(X509* cert, X509_EXTENSION* ext);

/// Encodes extensions once so minting can append copies (they are the same for every leaf).
Result<ossl::UniquePtr<X509_EXTENSION>> basicConstraints(bool ca, int pathLen);
Result<ossl::UniquePtr<X509_EXTENSION>> keyUsage(int bits);  // KU_* flags; always critical
Result<ossl::UniquePtr<X509_EXTENSION>> extKeyUsageServerClient();
Result<ossl::UniquePtr<X509_EXTENSION>> subjectKeyId(std::string_view keyId);
Result<ossl::UniquePtr<X509_EXTENSION>> authorityKeyId(std::string_view keyId);
/// One URI SAN plus DNS SANs; critical only when the subject is empty (X509-3).
Result<ossl::UniquePtr<X509_EXTENSION>> subjectAltNames(std::string_view uri,
                                                        const std::vector<std::string>& dns,
                                                        bool critical);

/// The digest to sign with for a CA key: SHA-384 for P-384, else SHA-256 (X509-12).
const EVP_MD* digestFor(const EVP_PKEY* signingKey);

/// Signs the certificate with `key`.
Result<void> sign(X509* cert, EVP_PKEY* key);

/// Signs the certificate with `key` and returns it re-read from its DER encoding. The
/// re-read is needed for certificates that sign others: setPublicKey() leaves OpenSSL's
/// decoded public key unset, and X509_get0_pubkey() would fail without it. It costs ~0.3 ms
/// in OpenSSL 3.0, so leaves skip it (their key travels beside them as an EVP_PKEY).
Result<ossl::UniquePtr<X509>> signAndReparse(X509* cert, EVP_PKEY* key);

}  // namespace lanyard::svid::x509fields
