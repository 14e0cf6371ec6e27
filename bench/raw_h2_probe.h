// SPDX-License-Identifier: Apache-2.0
// A minimal HTTP/2 gRPC client on a plain Unix socket (no gRPC library) that times a new
// connection's first response message, so that scenario (b) sees the server's cost only.
#pragma once

#include <string>

namespace lanyard::bench {

/// One probe: the first message of a call on a brand-new connection.
struct RawFirstMessage {
  bool ok = false;
  /// From just before connect() to the moment the first gRPC message is complete.
  double micros = 0;
  /// The message's protobuf bytes (without gRPC's 5-byte prefix).
  std::string message;
  /// Why the call failed: the frame that ended it and, when found, grpc-status/grpc-message.
  std::string error;
};

/// Connects to `socketPath` (blocking socket, 5 s receive timeout) and writes, in one write(),
/// the client preface, an empty SETTINGS frame, a HEADERS frame for stream 1 (POST `path`,
/// content-type application/grpc, te trailers, workload.spiffe.io true; HPACK literals
/// without indexing) and a DATA frame with END_STREAM carrying `request` as one uncompressed
/// gRPC message. Then reads frames until stream 1's DATA holds a complete gRPC message.
/// RST_STREAM, GOAWAY, trailers (HEADERS with END_STREAM) before that, EOF or a timeout fail.
/// Closes the socket before returning.
RawFirstMessage rawFirstMessage(const std::string& socketPath, const std::string& path,
                                const std::string& request);

}  // namespace lanyard::bench
