// SPDX-License-Identifier: Apache-2.0
// Workload endpoint addresses: parsing `unix:` and `tcp:` URIs into gRPC targets (EP-3 … EP-5).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace lanyard::workload_api {

/// The environment variable a workload reads the endpoint address from (EP-3).
inline constexpr const char* kEndpointSocketEnv = "SPIFFE_ENDPOINT_SOCKET";

/// A validated Workload API endpoint. Plain value type.
struct Endpoint {
  /// The address as written by the user, for messages ("unix:///run/lanyard/agent.sock").
  std::string address;
  /// What grpc::CreateChannel() dials: "unix:///abs/path", "ipv4:127.0.0.1:8081" or
  /// "ipv6:[::1]:8081" (IP literals only, so no DNS lookup ever happens).
  std::string target;
};

/// Parses an endpoint address as go-spiffe accepts it on POSIX (EP-4, EP-5):
/// `unix:///abs/path` and `unix:/abs/path` (percent-escapes decoded), `tcp://<IP>:<port>` with
/// an IPv4 or bracketed IPv6 literal and a port in 1..65535; the scheme is case-insensitive.
/// As a convenience for `--socket`, a bare absolute path (`/run/x.sock`) is accepted too.
/// Everything EP-5 rejects (opaque `unix:rel`, `unix://` without a path, an authority, user
/// info, query, fragment, a host name, no port, a path after the port, other schemes) fails
/// with InvalidArgument naming the address and the rule. Unix paths longer than a sockaddr_un
/// holds (107 bytes) are rejected too. Pure; thread-safe.
Result<Endpoint> parseEndpointAddress(std::string_view address);

/// parseEndpointAddress() of $SPIFFE_ENDPOINT_SOCKET (EP-3); NotFound when it is unset or
/// empty.
Result<Endpoint> endpointFromEnvironment();

}  // namespace lanyard::workload_api
