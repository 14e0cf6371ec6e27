// SPDX-License-Identifier: Apache-2.0
// The raw HTTP/2 probe of scenario (b): a hand-written gRPC request and a frame reader.
#include "raw_h2_probe.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "load_support.h"

namespace lanyard::bench {
namespace {

constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4, kGoAway = 0x7;
constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4, kPadded = 0x8, kPriority = 0x20;
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

void putFrameHeader(std::string& out, size_t length, uint8_t type, uint8_t flags, uint32_t stream) {
  out += static_cast<char>((length >> 16) & 0xff);
  out += static_cast<char>((length >> 8) & 0xff);
  out += static_cast<char>(length & 0xff);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += static_cast<char>((stream >> shift) & 0xff);
  }
}

// An HPACK string with H=0: its length as a 7-bit-prefix integer (RFC 7541 §5.1), then bytes.
void putString(std::string& out, const std::string& s) {
  size_t n = s.size();
  if (n < 0x7f) {
    out += static_cast<char>(n);
  } else {
    out += static_cast<char>(0x7f);
    for (n -= 0x7f; n >= 0x80; n >>= 7) {
      out += static_cast<char>((n & 0x7f) | 0x80);
    }
    out += static_cast<char>(n);
  }
  out += s;
}

// "Literal header field without indexing — new name" (RFC 7541 §6.2.2): 0x00, name, value.
void putLiteral(std::string& out, const std::string& name, const std::string& value) {
  out += '\0';
  putString(out, name);
  putString(out, value);
}

std::string requestBytes(const std::string& path, const std::string& request) {
  std::string block;
  putLiteral(block, ":method", "POST");
  putLiteral(block, ":scheme", "http");
  putLiteral(block, ":path", path);
  putLiteral(block, ":authority", "localhost");
  putLiteral(block, "content-type", "application/grpc");
  putLiteral(block, "te", "trailers");
  putLiteral(block, "workload.spiffe.io", "true");

  std::string message(5, '\0');  // compression flag 0, then the 4-byte big-endian length
  const auto length = static_cast<uint32_t>(request.size());
  for (int i = 0; i < 4; ++i) {
    message[1 + i] = static_cast<char>((length >> (24 - 8 * i)) & 0xff);
  }
  message += request;

  std::string out(kPreface, sizeof(kPreface) - 1);
  putFrameHeader(out, 0, kSettings, 0, 0);
  putFrameHeader(out, block.size(), kHeaders, kEndHeaders, 1);
  out += block;
  putFrameHeader(out, message.size(), kData, kEndStream, 1);
  out += message;
  return out;
}

uint32_t bigEndian(const std::string& s, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  }
  return v;
}

// Best effort: gRPC's encoder sends trailer names and values as plain literals, so a status
// in a header block can be read by name without an HPACK decoder.
std::string findHeader(const std::string& block, const std::string& name) {
  const size_t at = block.find(name);
  if (at == std::string::npos || at + name.size() >= block.size()) {
    return "";
  }
  const size_t lengthAt = at + name.size();
  const auto first = static_cast<uint8_t>(block[lengthAt]);
  if ((first & 0x80) != 0 || first == 0x7f) {  // Huffman-coded or long: not read here
    return "";
  }
  return block.substr(lengthAt + 1, first);
}

// A frame's payload without padding (and, for HEADERS, the priority fields).
std::string payloadOf(const std::string& buffer, size_t at, size_t length, uint8_t type,
                      uint8_t flags) {
  size_t begin = at, end = at + length;
  if ((flags & kPadded) != 0 && length > 0) {
    const size_t pad = static_cast<uint8_t>(buffer[begin]);
    ++begin;
    end = pad <= end - begin ? end - pad : begin;
  }
  if (type == kHeaders && (flags & kPriority) != 0) {
    begin = std::min(begin + 5, end);
  }
  return buffer.substr(begin, end - begin);
}

std::string frameError(uint8_t type, uint8_t flags, const std::string& payload) {
  std::string e = "frame type " + std::to_string(type) + " flags " + std::to_string(flags);
  if (type == kRstStream && payload.size() >= 4) {
    e += ": RST_STREAM error code " + std::to_string(bigEndian(payload, 0, 4));
  } else if (type == kGoAway && payload.size() >= 8) {
    e +=
        ": GOAWAY error code " + std::to_string(bigEndian(payload, 4, 4)) + " " + payload.substr(8);
  } else if (type == kHeaders) {
    e += ": trailers before any message, grpc-status " + findHeader(payload, "grpc-status");
    const std::string message = findHeader(payload, "grpc-message");
    e += message.empty() ? "" : " grpc-message " + message;
  }
  return e;
}

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Reads frames from `fd` until stream 1 has a complete gRPC message; fills `result`.
void readFirstMessage(int fd, const Clock::time_point start, RawFirstMessage& result) {
  std::string buffer, data;  // received bytes not yet parsed; stream 1's DATA payload so far
  size_t parsed = 0;
  char chunk[16384];
  for (;;) {
    while (buffer.size() - parsed >= 9) {
      const size_t length = bigEndian(buffer, parsed, 3);
      if (buffer.size() - parsed < 9 + length) {
        break;
      }
      const auto type = static_cast<uint8_t>(buffer[parsed + 3]);
      const auto flags = static_cast<uint8_t>(buffer[parsed + 4]);
      const uint32_t stream = bigEndian(buffer, parsed + 5, 4) & 0x7fffffffu;
      const std::string payload = payloadOf(buffer, parsed + 9, length, type, flags);
      parsed += 9 + length;
      if (type == kGoAway || (stream == 1 && type == kRstStream) ||
          (stream == 1 && type == kHeaders && (flags & kEndStream) != 0)) {
        result.error = frameError(type, flags, payload);
        return;
      }
      if (type != kData || stream != 1) {
        continue;  // SETTINGS, WINDOW_UPDATE, PING and the response headers
      }
      data += payload;
      if (data.size() >= 5 && data.size() >= 5 + bigEndian(data, 1, 4)) {
        result.micros = micros(Clock::now() - start);
        if (data[0] != 0) {
          result.error = "compressed message";
          return;
        }
        result.message = data.substr(5, bigEndian(data, 1, 4));
        result.ok = true;
        return;
      }
    }
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) {
      result.error = n == 0 ? "connection closed before the first message" : errnoText("read");
      return;
    }
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace

RawFirstMessage rawFirstMessage(const std::string& socketPath, const std::string& path,
                                const std::string& request) {
  RawFirstMessage result;
  const std::string bytes = requestBytes(path, request);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof(addr.sun_path) - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    result.error = errnoText("socket");
    return result;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

  const auto start = Clock::now();
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    result.error = errnoText("connect");
  } else if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    result.error = errnoText("write");
  } else {
    readFirstMessage(fd, start, result);
  }
  ::close(fd);
  return result;
}

}  // namespace lanyard::bench
