// SPDX-License-Identifier: Apache-2.0
// Table-driven strict base64 (RFC 4648 §4, padded) and base64url (§5, unpadded) codecs.
#include "svid/encoding.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/text.h"

namespace lanyard::svid {
namespace {

constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Marks a byte outside the alphabet; any 6-bit value ORed with it keeps bit 7 set, so one test
// per 4-character quantum finds a bad byte.
constexpr uint8_t kInvalid = 0xff;

constexpr std::array<uint8_t, 256> makeDecodeTable(const char* alphabet) {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) {
    v = kInvalid;
  }
  for (uint8_t i = 0; i < 64; ++i) {
    t[static_cast<unsigned char>(alphabet[i])] = i;
  }
  return t;
}

constexpr std::array<uint8_t, 256> kStdDecode = makeDecodeTable(kStdAlphabet);
constexpr std::array<uint8_t, 256> kUrlDecode = makeDecodeTable(kUrlAlphabet);

struct Codec {
  const char* alphabet;
  const std::array<uint8_t, 256>& decode;
  const char* name;  // for messages
};
constexpr Codec kStd{kStdAlphabet, kStdDecode, "decoding base64"};
constexpr Codec kUrl{kUrlAlphabet, kUrlDecode, "decoding base64url"};

// Encodes without padding; the caller appends '=' when it wants them.
std::string encode(std::string_view data, const char* alphabet, bool pad) {
  size_t full = data.size() / 3;
  size_t rem = data.size() % 3;
  size_t outSize = full * 4 + (rem == 0 ? 0 : (pad ? 4 : rem + 1));
  std::string out(outSize, '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  char* o = out.data();
  for (size_t i = 0; i < full; ++i, in += 3, o += 4) {
    uint32_t v = (uint32_t{in[0]} << 16) | (uint32_t{in[1]} << 8) | in[2];
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[(v >> 12) & 0x3f];
    o[2] = alphabet[(v >> 6) & 0x3f];
    o[3] = alphabet[v & 0x3f];
  }
  if (rem == 1) {
    uint32_t v = uint32_t{in[0]} << 16;
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[(v >> 12) & 0x3f];
    if (pad) {
      o[2] = '=';
      o[3] = '=';
    }
  } else if (rem == 2) {
    uint32_t v = (uint32_t{in[0]} << 16) | (uint32_t{in[1]} << 8);
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[(v >> 12) & 0x3f];
    o[2] = alphabet[(v >> 6) & 0x3f];
    if (pad) {
      o[3] = '=';
    }
  }
  return out;
}

Unexpected invalid(const Codec& codec, const std::string& why) {
  return fail(Code::InvalidArgument, std::string(codec.name) + ": " + why);
}

// Slow path, only after a quantum failed: finds and names the first bad byte from `from`.
Unexpected badChar(const Codec& codec, std::string_view text, size_t from) {
  for (size_t i = from; i < text.size(); ++i) {
    if (codec.decode[static_cast<unsigned char>(text[i])] == kInvalid) {
      const char* what = text[i] == '=' ? "unexpected padding " : "invalid character ";
      return invalid(codec, what + text::describeByte(text[i]) + " at offset " + std::to_string(i));
    }
  }
  return invalid(codec, "invalid character");  // unreachable: the caller saw one
}

// Decodes `text` whose length is a multiple of 4 plus `tail` (0, 2 or 3) characters, with no
// padding. Rejects a tail whose unused low bits are not zero, so each output has exactly one
// encoding (RFC 4648 §3.5).
Result<std::string> decode(const Codec& codec, std::string_view text) {
  size_t full = text.size() / 4;
  size_t tail = text.size() % 4;
  std::string out(full * 3 + (tail == 0 ? 0 : tail - 1), '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  const auto& t = codec.decode;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  for (size_t i = 0; i < full; ++i, in += 4, o += 3) {
    uint32_t a = t[in[0]];
    uint32_t b = t[in[1]];
    uint32_t c = t[in[2]];
    uint32_t d = t[in[3]];
    if (((a | b | c | d) & 0x80) != 0) {
      return badChar(codec, text, i * 4);
    }
    uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
  }
  if (tail == 0) {
    return out;
  }
  uint32_t a = t[in[0]];
  uint32_t b = t[in[1]];
  uint32_t c = tail == 3 ? t[in[2]] : 0;
  if (((a | b | c) & 0x80) != 0) {
    return badChar(codec, text, full * 4);
  }
  uint32_t v = (a << 18) | (b << 12) | (c << 6);
  uint32_t unused = tail == 2 ? (v & 0xffff) : (v & 0xff);
  if (unused != 0) {
    return invalid(codec, "non-zero trailing bits in last character at offset " +
                              std::to_string(text.size() - 1));
  }
  o[0] = static_cast<unsigned char>(v >> 16);
  if (tail == 3) {
    o[1] = static_cast<unsigned char>(v >> 8);
  }
  return out;
}

}  // namespace

std::string base64Encode(std::string_view data) { return encode(data, kStdAlphabet, true); }

Result<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return invalid(kStd, "length " + std::to_string(text.size()) +
                             " is not a multiple of 4 (padding missing or extra)");
  }
  // RFC 4648 §4: at most two '=', only at the end, and only as many as the last quantum needs.
  // Strip them here; decode() then sees an unpadded tail and rejects any '=' left in the data.
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') {
    ++pad;
  }
  if (pad == 2 && text.size() > 2 && text[text.size() - 3] == '=') {
    return invalid(kStd, "too much padding at offset " + std::to_string(text.size() - 3));
  }
  return decode(kStd, text.substr(0, text.size() - pad));
}

std::string base64UrlEncode(std::string_view data) { return encode(data, kUrlAlphabet, false); }

Result<std::string> base64UrlDecode(std::string_view text) {
  // JWT-1: go-jose refuses padded input, so '=' anywhere is an error, named as such.
  if (text.size() % 4 == 1) {
    return invalid(kUrl, "length " + std::to_string(text.size()) + " is 1 mod 4");
  }
  return decode(kUrl, text);
}

}  // namespace lanyard::svid
