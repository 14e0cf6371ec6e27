// SPDX-License-Identifier: Apache-2.0
// JWT-SVID minting and validation (JWT-1 … JWT-11).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/openssl.h"
#include "common/result.h"
#include "svid/bundle.h"
#include "svid/spiffe_id.h"

namespace lanyard::svid {

/// JWS algorithms allowed for JWT-SVIDs (JWT-2).
enum class JwtAlg { ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512 };

const char* jwtAlgName(JwtAlg alg);

/// A private JWT signing key with its kid. Immutable once built; shared by minting threads.
class JwtSigner {
 public:
  /// Picks `alg` from the key (P-256 → ES256, P-384 → ES384, P-521 → ES512, RSA → RS256, or
  /// PS256 with `rsaPss`). Computes the kid with keyIdFor() unless one is given.
  static Result<JwtSigner> create(ossl::UniquePtr<EVP_PKEY> key, std::string kid = {},
                                  bool rsaPss = false);

  const std::string& kid() const { return kid_; }
  JwtAlg alg() const { return alg_; }
  EVP_PKEY* key() const { return key_.get(); }

 private:
  JwtSigner() = default;
  ossl::UniquePtr<EVP_PKEY> key_;
  std::string kid_;
  JwtAlg alg_ = JwtAlg::ES256;
  std::string headerB64_;  // precomputed base64url header: constant per signer
  friend Result<std::string> mintJwtSvid(const JwtSigner&, const SpiffeId&,
                                         const std::vector<std::string>&, SysTime, Seconds);
};

/// Mints a compact JWS: header {alg, kid, typ:"JWT"}, claims {sub, aud (list), exp, iat}
/// (JWT-1 … JWT-10). Empty audience strings are dropped; InvalidArgument when none is left.
/// ECDSA signatures are raw R‖S (JWT-10). Thread-safe.
Result<std::string> mintJwtSvid(const JwtSigner& signer, const SpiffeId& subject,
                                const std::vector<std::string>& audience, SysTime now, Seconds ttl);

/// A parsed (and, from validateJwtSvid, verified) JWT-SVID.
struct JwtSvid {
  std::string token;
  SpiffeId subject;
  std::vector<std::string> audience;
  SysTime expiry;
  std::optional<SysTime> issuedAt;
  std::string kid;
  JwtAlg alg = JwtAlg::ES256;
  nlohmann::json claims;  // the whole payload object
};

/// Go-jose's clock leeway for exp/nbf/iat (JWT-7, JWT-8).
inline constexpr Seconds kJwtLeeway{60};

/// Validates a JWT-SVID per JWT-11: compact form, alg allow-list, typ JWT/JOSE, kid present,
/// sub a valid SPIFFE ID, exp present and not past (leeway), nbf/iat not in the future
/// (leeway), bundle of sub's trust domain present, key by kid, signature, `audience` an exact
/// member of aud. Every failure is InvalidArgument with a message naming the check (WAPI-5).
Result<JwtSvid> validateJwtSvid(std::string_view token, const BundleMap& bundles,
                                std::string_view audience, SysTime now);

/// Parses without verifying the signature (go-spiffe's ParseInsecure): structure, alg, typ,
/// kid, sub, exp and that one of `audience` is present. For clients that already trust the
/// channel the token came over.
Result<JwtSvid> parseJwtSvidInsecure(std::string_view token,
                                     const std::vector<std::string>& audience);

}  // namespace lanyard::svid
