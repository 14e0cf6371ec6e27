// SPDX-License-Identifier: Apache-2.0
// The floor server: a bare gRPC callback server on a Unix socket with no attestation, no
// identities and no peer table, run by workload_load in a child process of its own.
#pragma once

#include <string>

namespace lanyard::bench {

/// Serves BenchEcho (bench_echo.proto) on `unix:socketPath` until the process is killed.
/// Echo answers at once on gRPC's thread; Watch sends one message of the requested size and
/// keeps the stream open until the client cancels, as a Workload API stream does between
/// rotations. Returns a process exit code (1 when the server cannot start).
int runBareServer(const std::string& socketPath);

}  // namespace lanyard::bench
