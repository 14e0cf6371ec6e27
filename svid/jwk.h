// SPDX-License-Identifier: Apache-2.0
// Public keys as JSON Web Keys (RFC 7517/7518) for SPIFFE bundles (BUNDLE-4 … BUNDLE-7).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/openssl.h"
#include "common/result.h"

namespace lanyard::svid {

/// The key members of a public key's JWK: {"kty":"EC","crv":"P-256","x":…,"y":…} with
/// coordinates left-padded to the curve size, or {"kty":"RSA","n":…,"e":…}; all unpadded
/// base64url (BUNDLE-7). InvalidArgument for key types outside EC P-256/P-384/P-521 and RSA.
Result<nlohmann::json> publicKeyToJwk(const EVP_PKEY* key);

/// Builds a public key from a JWK's key members. Rejects a missing or unknown `kty`, unknown
/// `crv`, coordinates of the wrong length or not on the curve, padded base64url, and RSA keys
/// under 2048 bits (BUNDLE-7). Ignores members it does not know.
Result<ossl::UniquePtr<EVP_PKEY>> publicKeyFromJwk(const nlohmann::json& jwk);

/// A stable key ID for a JWT signing key: unpadded base64url of the first 24 bytes of the
/// SHA-256 of its SubjectPublicKeyInfo (32 characters, like SPIRE's kids).
Result<std::string> keyIdFor(const EVP_PKEY* key);

}  // namespace lanyard::svid
