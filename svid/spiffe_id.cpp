// SPDX-License-Identifier: Apache-2.0
// Strict SPIFFE ID and trust-domain parsing per spec/SPIFFE.md §1 (ID-1 … ID-9), without regex.
#include "svid/spiffe_id.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/text.h"

namespace lanyard::svid {
namespace {

constexpr std::string_view kScheme = "spiffe://";
// Error messages quote at most this many bytes of the input, so that a hostile multi-megabyte
// string does not end up in a log line.
constexpr size_t kMaxQuotedBytes = 256;

// Character classes as one table lookup each; bit 0 = trust-domain byte (ID-2), bit 1 = path
// segment byte (ID-4).
constexpr uint8_t kTdChar = 1;
constexpr uint8_t kSegChar = 2;
constexpr std::array<uint8_t, 256> kCharClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) {
    t[c] = kTdChar | kSegChar;
  }
  for (int c = 'A'; c <= 'Z'; ++c) {
    t[c] = kSegChar;
  }
  for (int c = '0'; c <= '9'; ++c) {
    t[c] = kTdChar | kSegChar;
  }
  for (unsigned char c : {'.', '-', '_'}) {
    t[c] = kTdChar | kSegChar;
  }
  return t;
}();

bool isTdChar(char c) { return (kCharClass[static_cast<unsigned char>(c)] & kTdChar) != 0; }
bool isSegChar(char c) { return (kCharClass[static_cast<unsigned char>(c)] & kSegChar) != 0; }

Unexpected invalid(std::string_view doing, std::string_view input, const std::string& why) {
  return fail(Code::InvalidArgument,
              std::string(doing) + " " + text::quote(input, kMaxQuotedBytes) + ": " + why);
}

// Names what a byte that is illegal in a trust domain was probably trying to be (ID-2, ID-3).
std::string badTdChar(char c) {
  if (c >= 'A' && c <= 'Z') {
    return "trust domain contains uppercase letter " + text::describeByte(c);
  }
  switch (c) {
    case ':':
      return "trust domain contains ':' (a port is not allowed)";
    case '@':
      return "trust domain contains '@' (userinfo is not allowed)";
    case '%':
      return "trust domain contains '%' (percent-encoding is not allowed)";
    case '[':
    case ']':
      return "trust domain contains " + text::describeByte(c) + " (an IPv6 literal is not allowed)";
    case '?':
      return "trust domain contains '?' (a query is not allowed)";
    case '#':
      return "trust domain contains '#' (a fragment is not allowed)";
    default:
      return "trust domain contains invalid character " + text::describeByte(c);
  }
}

// Checks a bare trust-domain name (ID-2, ID-3, ID-5). Returns "" when valid, else the reason;
// the empty string does not allocate, so the success path stays allocation-free.
std::string checkTrustDomain(std::string_view name) {
  if (name.empty()) {
    return "trust domain is empty";
  }
  if (name.size() > kMaxTrustDomainLength) {
    return "trust domain is " + std::to_string(name.size()) + " bytes, longer than " +
           std::to_string(kMaxTrustDomainLength);
  }
  for (char c : name) {
    if (!isTdChar(c)) {
      return badTdChar(c);
    }
  }
  return {};
}

// Names what a byte that is illegal in a path was probably trying to be (ID-4).
std::string badPathChar(char c) {
  switch (c) {
    case '%':
      return "path contains '%' (percent-encoding is not allowed)";
    case '?':
      return "path contains '?' (a query is not allowed)";
    case '#':
      return "path contains '#' (a fragment is not allowed)";
    default:
      return "path contains invalid character " + text::describeByte(c);
  }
}

// Checks one segment, given with its leading '/'; `last` tells a trailing '/' from "//".
std::string checkSegment(std::string_view segment, bool last) {
  if (segment.size() == 1) {
    return last ? "path has a trailing '/'" : "empty path segment";
  }
  if (segment == "/." || segment == "/..") {
    return "path segment \"" + std::string(segment.substr(1)) + "\" is not allowed";
  }
  return {};
}

// Checks a path (ID-4) in one pass, reporting the first fault from the left as go-spiffe's
// ValidatePath does. Returns "" when valid, else the reason.
std::string checkPath(std::string_view path) {
  if (path.empty()) {
    return {};
  }
  if (path[0] != '/') {
    return "path does not start with '/'";
  }
  size_t start = 0;
  for (size_t i = 1; i < path.size(); ++i) {
    char c = path[i];
    if (c == '/') {
      std::string why = checkSegment(path.substr(start, i - start), false);
      if (!why.empty()) {
        return why;
      }
      start = i;
    } else if (!isSegChar(c)) {
      return badPathChar(c);
    }
  }
  return checkSegment(path.substr(start), true);
}

std::string tooLong(size_t size) {
  return "ID is " + std::to_string(size) + " bytes, longer than " +
         std::to_string(kMaxSpiffeIdLength);
}

// Splits and checks a full ID (ID-1 … ID-5). Returns "" and fills td/path when valid.
std::string checkId(std::string_view id, std::string_view& td, std::string_view& path) {
  if (id.empty()) {
    return "empty string";
  }
  // ID-1: go-spiffe compares the 9-byte prefix exactly, so "SPIFFE://" and "spiffe:/" fail.
  if (id.substr(0, kScheme.size()) != kScheme) {
    return "scheme must be \"spiffe://\"";
  }
  if (id.size() > kMaxSpiffeIdLength) {
    return tooLong(id.size());
  }
  std::string_view rest = id.substr(kScheme.size());
  size_t slash = rest.find('/');
  td = rest.substr(0, slash);
  path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  std::string why = checkTrustDomain(td);
  if (!why.empty()) {
    return why;
  }
  return checkPath(path);
}

}  // namespace

Result<TrustDomain> TrustDomain::parse(std::string_view name) {
  constexpr std::string_view kDoing = "parsing trust domain";
  // ID-9: like go-spiffe's TrustDomainFromString, anything containing ":/" is a full ID.
  if (name.find(":/") != std::string_view::npos) {
    std::string_view td;
    std::string_view path;
    std::string why = checkId(name, td, path);
    if (!why.empty()) {
      return invalid(kDoing, name, why);
    }
    return TrustDomain(std::string(td));
  }
  std::string why = checkTrustDomain(name);
  if (!why.empty()) {
    return invalid(kDoing, name, why);
  }
  return TrustDomain(std::string(name));
}

Result<TrustDomain> TrustDomain::parseForConfig(std::string_view name) {
  LANYARD_TRY(TrustDomain td, parse(name));
  // ID-7: Go's X.509 parser rejects a URI SAN host with an empty label or a trailing dot.
  const std::string& n = td.name();
  const char* why = nullptr;
  if (n.front() == '.') {
    why = "trust domain starts with '.'";
  } else if (n.back() == '.') {
    why = "trust domain ends with '.'";
  } else if (n.find("..") != std::string::npos) {
    why = "trust domain contains \"..\"";
  }
  if (why != nullptr) {
    return invalid("parsing trust domain", name,
                   std::string(why) + " (Go's X.509 parser would reject every SVID)");
  }
  return td;
}

Result<SpiffeId> SpiffeId::parse(std::string_view id) {
  std::string_view td;
  std::string_view path;
  std::string why = checkId(id, td, path);
  if (!why.empty()) {
    return invalid("parsing SPIFFE ID", id, why);
  }
  return SpiffeId(TrustDomain(std::string(td)), std::string(path));
}

Result<SpiffeId> SpiffeId::fromPath(const TrustDomain& td, std::string_view path) {
  std::string why = checkPath(path);
  if (why.empty()) {
    size_t size = kScheme.size() + td.name().size() + path.size();
    if (size > kMaxSpiffeIdLength) {
      why = tooLong(size);
    }
  }
  if (!why.empty()) {
    return invalid("building SPIFFE ID in trust domain " + td.name() + " from path", path, why);
  }
  return SpiffeId(td, std::string(path));
}

Result<void> validatePath(std::string_view path) {
  std::string why = checkPath(path);
  if (!why.empty()) {
    return invalid("validating path", path, why);
  }
  return {};
}

}  // namespace lanyard::svid
