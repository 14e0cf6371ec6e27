// SPDX-License-Identifier: Apache-2.0
// The latency scenarios of workload_load: unary calls against the floor and lanyardd, a new
// connection's first X.509 message, and lanyardd's startup to serving (docs/benchmarks.md).
#pragma once

#include <string>

#include "load_support.h"

namespace lanyard::bench {

/// Scenario (a): p50/p99 in microseconds of a unary call over the socket from a sync client.
struct UnaryResult {
  Summary floor;
  Summary fetchJwt;
  Summary validateJwt;
  int errors = 0;
  std::string lastError;
};

/// Interleaves `rounds` rounds of `calls` calls of each kind (order shuffled per round) after
/// a warm-up, each kind on one connection of its own: BenchEcho.Echo on `bareSocket`,
/// FetchJWTSVID (cached after the first) and ValidateJWTSVID on `daemonSocket`.
UnaryResult measureUnary(const std::string& bareSocket, const std::string& daemonSocket, int rounds,
                         int calls);

/// Scenario (b): time from creating a channel (a new connection) to the first message of a
/// stream, in microseconds: FetchX509SVID on lanyardd, and BenchEcho.Watch with a message of
/// the same size on the bare server as the floor.
struct ConnectResult {
  Summary workload;
  Summary floor;
  /// Channel creation to WaitForConnected() only (no call), for lanyardd and the floor.
  Summary workloadConnected;
  Summary floorConnected;
  size_t x509Bytes = 0;
  int errors = 0;
  std::string lastError;
};

/// Alternates `connections` new connections of each of the four kinds.
ConnectResult measureNewConnections(const std::string& bareSocket, const std::string& daemonSocket,
                                    int connections);

/// Scenario (b) with the raw HTTP/2 client of raw_h2_probe.h instead of gRPC's: connect() to
/// the first message, in microseconds, FetchX509SVID on lanyardd (each response checked to
/// hold an SVID) and BenchEcho.Watch with a message of `watchSize` bytes on the floor.
struct RawConnectResult {
  Summary workload;
  Summary floor;
  int errors = 0;
  std::string lastError;
};

/// Alternates `connections` new connections of each kind, after 20 unrecorded ones of each.
RawConnectResult measureRawConnections(const std::string& bareSocket,
                                       const std::string& daemonSocket, int connections,
                                       size_t watchSize);

/// Scenario (d): milliseconds from fork/exec of lanyardd to the first FetchX509SVID message,
/// with an existing data_dir and with a fresh one; also to the socket accepting connections.
struct StartupResult {
  Summary existing;
  Summary fresh;
  Summary existingConnectable;
  Summary freshConnectable;
  int failures = 0;
  std::string lastError;
};

/// Alternates `runs` starts of each kind, stopping the daemon after each.
StartupResult measureStartup(const std::string& daemonPath, int runs);

/// Opens a new connection to lanyardd and reads the first FetchX509SVID message; returns its
/// size, or 0 and sets `error`.
size_t firstX509(const std::string& socketPath, std::string& error);

}  // namespace lanyard::bench
