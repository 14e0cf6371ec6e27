// SPDX-License-Identifier: Apache-2.0
// Scenario (c) of workload_load: 10,000 open FetchX509SVID streams on 100 connections — the
// rotation push's spread and lanyardd's memory against a bare gRPC server holding as many.
#pragma once

#include <string>

namespace lanyard::bench {

struct StreamsOptions {
  std::string daemonPath;
  /// This executable, started with --bare-server for the floor.
  std::string selfPath;
  int channels = 100;
  int streams = 10000;
  /// x509_svid_ttl of the daemon: the push comes at about half of it.
  int ttlSeconds = 10;
};

/// Memory is VmRSS in KiB, times in milliseconds from the moment the streams were opened.
struct StreamsResult {
  long daemonIdleKiB = -1;
  long daemonStreamsKiB = -1;
  long daemonRotatedKiB = -1;
  long daemonThreadsIdle = -1;
  long daemonThreadsStreams = -1;
  long bareIdleKiB = -1;
  long bareStreamsKiB = -1;
  long bareThreadsStreams = -1;
  size_t messageBytes = 0;
  int opened = 0;
  int bareOpened = 0;
  double openLastMs = 0;
  double bareOpenLastMs = 0;
  int eligible = 0;
  int rotated = 0;
  double rotationFirstMs = 0;
  double rotationLastMs = 0;
  int failed = 0;
  std::string lastError;
};

/// Runs lanyardd (fresh data_dir, x509_svid_ttl = ttlSeconds), opens the streams, waits for
/// every stream's rotation push (at most ttl + 10 s), then does the same without the rotation
/// against a fresh bare server whose messages are as large as lanyardd's.
StreamsResult measureStreams(const StreamsOptions& options);

}  // namespace lanyard::bench
