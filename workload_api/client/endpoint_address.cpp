// SPDX-License-Identifier: Apache-2.0
// Parses Workload API endpoint addresses the way go-spiffe does on POSIX (EP-3 … EP-5).
#include "workload_api/client/endpoint_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "common/text.h"

namespace lanyard::workload_api {
namespace {

// sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxUnixPathLength = 107;

Unexpected invalid(std::string_view address, std::string_view reason) {
  return fail(Code::InvalidArgument, "parsing workload endpoint address " + text::quote(address) +
                                         ": " + std::string(reason));
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// RFC 3986 §2.1 percent-decoding, as Go's url.Parse applies to the path.
bool percentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) {
      return false;
    }
    int hi = hexValue(in[i + 1]);
    int lo = hexValue(in[i + 2]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

// gRPC percent-decodes the path of a target URI, so everything but unreserved characters and
// '/' is escaped again.
std::string percentEncodePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

Result<Endpoint> unixEndpoint(std::string_view address, std::string_view path) {
  if (path.find('\0') != std::string_view::npos) {
    return invalid(address, "the socket path contains a NUL byte");
  }
  if (path.size() > kMaxUnixPathLength) {
    return invalid(address, "the socket path is longer than the 107 bytes a Unix socket allows");
  }
  return Endpoint{std::string(address), "unix://" + percentEncodePath(path)};
}

Result<Endpoint> parseUnix(std::string_view address, bool hasAuthority, std::string_view authority,
                           std::string_view path) {
  if (hasAuthority && !authority.empty()) {
    return invalid(address,
                   "a unix address has no authority (host or user info): write "
                   "unix:///absolute/path (EP-4)");
  }
  if (path.empty()) {
    return invalid(address, "a unix address needs a socket path: unix:///absolute/path (EP-5)");
  }
  if (path[0] != '/') {
    return invalid(address,
                   "a unix address needs an absolute path: unix:///absolute/path, not the "
                   "opaque form unix:relative/path (EP-5)");
  }
  std::string decoded;
  if (!percentDecode(path, decoded)) {
    return invalid(address, "malformed percent-escape in the socket path");
  }
  return unixEndpoint(address, decoded);
}

bool parsePort(std::string_view s, int& port) {
  if (s.empty() || s.size() > 5) {
    return false;
  }
  port = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    port = port * 10 + (c - '0');
  }
  return port >= 1 && port <= 65535;
}

Result<Endpoint> parseTcp(std::string_view address, bool hasAuthority, std::string_view authority,
                          std::string_view path) {
  if (!hasAuthority) {
    return invalid(address, "a tcp address is tcp://<IP>:<port> (EP-4)");
  }
  if (authority.find('@') != std::string_view::npos) {
    return invalid(address, "a tcp address has no user info (EP-5)");
  }
  if (!path.empty()) {
    return invalid(address, "a tcp address has nothing after the port, not even '/' (EP-5)");
  }
  std::string host;
  std::string_view rest;
  bool v6 = !authority.empty() && authority[0] == '[';
  if (v6) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return invalid(address, "unterminated '[' in the IPv6 literal");
    }
    host = std::string(authority.substr(1, close - 1));
    rest = authority.substr(close + 1);
  } else {
    size_t colon = authority.find(':');
    host = std::string(authority.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  unsigned char buf[sizeof(in6_addr)];
  if (host.empty() || ::inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buf) != 1) {
    return invalid(address,
                   "the host of a tcp address must be an IP literal (127.0.0.1 or [::1]), not "
                   "a name (EP-5)");
  }
  int port = 0;
  if (rest.empty() || rest[0] != ':' || !parsePort(rest.substr(1), port)) {
    return invalid(address, "a tcp address needs a port in 1..65535: tcp://<IP>:<port> (EP-5)");
  }
  std::string target = v6 ? "ipv6:[" + host + "]:" : "ipv4:" + host + ":";
  return Endpoint{std::string(address), target + std::to_string(port)};
}

}  // namespace

Result<Endpoint> parseEndpointAddress(std::string_view address) {
  if (address.empty()) {
    return invalid(address, "the address is empty");
  }
  if (address[0] == '/') {
    // A bare path, as `--socket` takes it: no URI decoding at all.
    return unixEndpoint(address, address);
  }
  size_t colon = address.find(':');
  if (colon == std::string_view::npos || colon == 0 || std::isalpha(address[0]) == 0) {
    return invalid(address,
                   "not a URI: write unix:///absolute/path or tcp://<IP>:<port> (or an absolute "
                   "socket path)");
  }
  std::string scheme;
  for (char c : address.substr(0, colon)) {
    scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view rest = address.substr(colon + 1);
  if (rest.find('#') != std::string_view::npos) {
    return invalid(address, "a workload endpoint address has no fragment (EP-5)");
  }
  if (rest.find('?') != std::string_view::npos) {
    return invalid(address, "a workload endpoint address has no query (EP-5)");
  }
  bool hasAuthority = rest.substr(0, 2) == "//";
  std::string_view authority;
  std::string_view path = rest;
  if (hasAuthority) {
    size_t slash = rest.find('/', 2);
    authority = rest.substr(2, slash == std::string_view::npos ? rest.npos : slash - 2);
    path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  if (scheme == "unix") {
    return parseUnix(address, hasAuthority, authority, path);
  }
  if (scheme == "tcp") {
    return parseTcp(address, hasAuthority, authority, path);
  }
  return invalid(address, "unsupported scheme " + text::quote(scheme) +
                              ": the workload endpoint is unix:///absolute/path or "
                              "tcp://<IP>:<port> (EP-4)");
}

Result<Endpoint> endpointFromEnvironment() {
  const char* value = std::getenv(kEndpointSocketEnv);
  if (value == nullptr || *value == '\0') {
    return fail(Code::NotFound, std::string("reading the workload endpoint address: ") +
                                    kEndpointSocketEnv + " is not set");
  }
  return parseEndpointAddress(value);
}

}  // namespace lanyard::workload_api
