// SPDX-License-Identifier: Apache-2.0
// JWS signing primitives for JWT-SVIDs: the algorithm table (JWT-2), signing with raw R‖S
// ECDSA output and verification of it (JWT-10). Internal to svid/.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/openssl.h"
#include "common/result.h"
#include "svid/jwt_svid.h"

namespace lanyard::svid::jws {

/// What each allowed JWS algorithm needs (JWT-2, JWT-10): digest, ECDSA half size (0 for RSA)
/// and whether it is RSASSA-PSS.
struct AlgInfo {
  JwtAlg alg;
  const char* name;
  const char* digest;
  int ecSize;
  bool pss;
};

/// Large enough for an RSA-8192 signature; JwtSigner::create refuses bigger keys.
inline constexpr size_t kMaxSignatureBytes = 1024;

/// The table row of an algorithm.
const AlgInfo& infoOf(JwtAlg alg);
/// The row whose JOSE name is `name`, or nullptr (JWT-2: anything else is rejected).
const AlgInfo* findAlg(std::string_view name);

/// The ECDSA half size (32, 48, 66) of a key on P-256/P-384/P-521, else 0.
int ecHalfSize(const EVP_PKEY* key);

/// Signs the JWS signing input; ECDSA output is converted from DER to raw R‖S (JWT-10).
/// Thread-safe (one digest context per thread).
Result<std::string> signJws(EVP_PKEY* key, const AlgInfo& alg, std::string_view input);

/// True when `sig` is a valid signature of `input` under `key` with `alg`.
bool verifyJws(const EVP_PKEY* key, const AlgInfo& alg, std::string_view input,
               std::string_view sig);

}  // namespace lanyard::svid::jws
