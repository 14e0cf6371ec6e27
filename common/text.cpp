// SPDX-License-Identifier: Apache-2.0
// Quoting of untrusted text for error messages.
#include "common/text.h"

namespace lanyard::text {
namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

std::string quote(std::string_view s, size_t maxBytes) {
  std::string out = "\"";
  const size_t n = s.size() < maxBytes ? s.size() : maxBytes;
  for (size_t i = 0; i < n; ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u == '"' || u == '\\') {
      out += '\\';
      out += static_cast<char>(u);
    } else if (u >= 0x20 && u < 0x7f) {
      out += static_cast<char>(u);
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  if (n < s.size()) {
    out += "...";
  }
  out += '"';
  return out;
}

std::string describeByte(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) {
    return std::string("'") + c + "'";
  }
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xf];
}

}  // namespace lanyard::text
