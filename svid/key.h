// SPDX-License-Identifier: Apache-2.0
// Key generation and (de)serialisation for SVID, CA and JWT keys (EVP only).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <openssl/crypto.h>

#include "common/openssl.h"
#include "common/result.h"

namespace lanyard::svid {

/// Bytes of private key material: wiped (OPENSSL_cleanse) when destroyed. Move-only.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.wipe(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    wipe();
    bytes_ = std::move(other.bytes_);
    other.wipe();
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { wipe(); }

  const std::string& str() const { return bytes_; }

 private:
  void wipe() {
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_.clear();
  }
  std::string bytes_;
};

/// Key algorithms a CA, JWT or SVID key may use. Names follow SPIRE's `ca_key_type`.
enum class KeyType { EcP256, EcP384, Rsa2048, Rsa3072, Rsa4096 };

/// "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096".
const char* keyTypeName(KeyType type);
/// Inverse of keyTypeName(); InvalidArgument naming the accepted values otherwise.
Result<KeyType> keyTypeFromName(std::string_view name);
/// The type of an existing key; InvalidArgument for curves and sizes we do not support.
Result<KeyType> keyTypeOf(const EVP_PKEY* key);
/// True for the EC types.
bool isEc(KeyType type);

/// Generates a fresh private key. For EcP256 this reuses a per-thread keygen context, which
/// doubles throughput over a fresh context (DESIGN.md §7). Thread-safe.
Result<ossl::UniquePtr<EVP_PKEY>> generateKey(KeyType type);

/// PKCS#8 PEM ("PRIVATE KEY"), for files on disk. Callers cleanse the string after use.
Result<std::string> privateKeyToPem(const EVP_PKEY* key);
/// Unencrypted PKCS#8 DER, as the Workload API carries keys (WAPI-10).
Result<std::string> privateKeyToDer(const EVP_PKEY* key);
/// The uncompressed public point (0x04 ‖ X ‖ Y) of an EC key. ~5 µs in OpenSSL 3.0: callers
/// on the minting path read it once and pass it on.
Result<std::string> ecPublicPoint(const EVP_PKEY* key);
/// PKCS#8 DER of a P-256 key whose public point is already known (see ecPublicPoint()).
Result<SecretBytes> p256PrivateKeyToDer(const EVP_PKEY* key, std::string_view point);
/// Parses a PEM private key (PKCS#8, or traditional EC/RSA). Never call on a hot path: parsing
/// costs ~0.35 ms (DESIGN.md §7).
Result<ossl::UniquePtr<EVP_PKEY>> privateKeyFromPem(std::string_view pem);
/// Parses unencrypted PKCS#8 DER.
Result<ossl::UniquePtr<EVP_PKEY>> privateKeyFromDer(std::string_view der);
/// SubjectPublicKeyInfo DER of a key's public half.
Result<std::string> publicKeyToDer(const EVP_PKEY* key);

}  // namespace lanyard::svid
