// SPDX-License-Identifier: Apache-2.0
// Base64 (standard, padded: x5c) and base64url (unpadded: JWS, JWK members) codecs.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace lanyard::svid {

/// Standard alphabet with '=' padding (RFC 4648 §4), as JWK x5c requires (BUNDLE-5).
std::string base64Encode(std::string_view data);
/// Strict decode: rejects missing/extra padding, whitespace and bytes outside the alphabet.
Result<std::string> base64Decode(std::string_view text);

/// URL-safe alphabet without padding (RFC 4648 §5), as JWS and JWK require (JWT-1, BUNDLE-7).
std::string base64UrlEncode(std::string_view data);
/// Strict decode: rejects padding, a length of 1 mod 4, non-zero trailing bits and any byte
/// outside the alphabet (go-jose refuses padded input, JWT-1).
Result<std::string> base64UrlDecode(std::string_view text);

}  // namespace lanyard::svid
