// SPDX-License-Identifier: Apache-2.0
// Minimal DER (X.690) writer for the fixed-shape leaf certificates we mint. Internal to svid/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lanyard::svid::der {

// Tags used in certificates.
inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kBitString = 0x03;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kOid = 0x06;
inline constexpr uint8_t kUtcTime = 0x17;
inline constexpr uint8_t kGeneralizedTime = 0x18;
inline constexpr uint8_t kSequence = 0x30;
inline constexpr uint8_t kContext0 = 0xa0;  // [0] EXPLICIT, constructed
inline constexpr uint8_t kContext3 = 0xa3;  // [3] EXPLICIT, constructed
inline constexpr uint8_t kSanDns = 0x82;    // GeneralName dNSName [2] IA5String
inline constexpr uint8_t kSanUri = 0x86;    // GeneralName uniformResourceIdentifier [6]

/// Appends a definite length in its shortest form (X.690 §10.1).
inline void appendLength(std::string& out, size_t len) {
  if (len < 0x80) {
    out.push_back(static_cast<char>(len));
    return;
  }
  char buf[sizeof(size_t)];
  int n = 0;
  for (size_t l = len; l != 0; l >>= 8) {
    buf[n++] = static_cast<char>(l & 0xff);
  }
  out.push_back(static_cast<char>(0x80 | n));
  while (n > 0) {
    out.push_back(buf[--n]);
  }
}

/// Appends tag, length and `content`.
inline void appendTlv(std::string& out, uint8_t tag, std::string_view content) {
  out.push_back(static_cast<char>(tag));
  appendLength(out, content.size());
  out.append(content);
}

/// Returns tag, length and `content` as a new string.
inline std::string tlv(uint8_t tag, std::string_view content) {
  std::string out;
  out.reserve(content.size() + 6);
  appendTlv(out, tag, content);
  return out;
}

}  // namespace lanyard::svid::der
