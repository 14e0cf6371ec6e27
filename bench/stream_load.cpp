// SPDX-License-Identifier: Apache-2.0
// Scenario (c): the rotation push to 10,000 streams and the RSS it costs, against a floor.
#include "stream_load.h"

#include <cstdio>
#include <thread>

#include "load_support.h"
#include "stream_fleet.h"

namespace lanyard::bench {
namespace {

// Lets a freshly started or freshly loaded process settle before its RSS is read.
constexpr auto kSettle = std::chrono::milliseconds(500);

void noteFailures(const StreamFleet& fleet, StreamsResult& result) {
  if (fleet.failed() > 0) {
    result.failed += fleet.failed();
    result.lastError = fleet.lastError();
  }
}

void runDaemonStreams(const StreamsOptions& o, StreamsResult& result) {
  TempDir dir;
  const std::string socket = dir.path() + "/agent.sock";
  const std::string config =
      writeDaemonConfig(dir.path(), dir.path() + "/data", std::to_string(o.ttlSeconds) + "s");
  const std::string log = dir.path() + "/lanyardd.log";
  auto daemon = Child::spawn({o.daemonPath, "--config", config}, log);
  if (!waitConnectable(socket, std::chrono::seconds(10))) {
    result.lastError = "lanyardd did not start: " + tailOf(log, 400);
    return;
  }
  std::this_thread::sleep_for(kSettle);
  result.daemonIdleKiB = daemon->rssKiB();
  result.daemonThreadsIdle = daemon->threads();

  StreamFleet fleet(StreamFleet::Kind::Workload, socket, o.channels, o.streams, 0);
  fleet.open();
  fleet.waitFirst(std::chrono::seconds(60));
  result.opened = fleet.withFirst();
  result.openLastMs = fleet.firstMessages().lastMs;
  result.messageBytes = fleet.messageBytes();
  std::this_thread::sleep_for(kSettle);
  result.daemonStreamsKiB = daemon->rssKiB();
  result.daemonThreadsStreams = daemon->threads();
  std::fprintf(stderr, "  %d streams open after %.0f ms; waiting for the rotation push\n",
               result.opened, result.openLastMs);

  fleet.waitChanged(std::chrono::seconds(o.ttlSeconds + 10));
  std::this_thread::sleep_for(kSettle);
  result.daemonRotatedKiB = daemon->rssKiB();
  fleet.close();  // every reactor is done: the records are stable from here
  const StreamFleet::Spread rotation = fleet.changes();
  result.eligible = rotation.eligible;
  result.rotated = rotation.received;
  result.rotationFirstMs = rotation.firstMs;
  result.rotationLastMs = rotation.lastMs;
  noteFailures(fleet, result);
  if (!daemon->alive()) {
    result.lastError = "lanyardd exited: " + tailOf(log, 400);
  }
}

void runBareStreams(const StreamsOptions& o, StreamsResult& result) {
  TempDir dir;
  const std::string socket = dir.path() + "/bare.sock";
  auto bare = Child::spawn({o.selfPath, "--bare-server", socket}, dir.path() + "/bare.log");
  if (!waitConnectable(socket, std::chrono::seconds(10))) {
    result.lastError = "the bare server did not start";
    return;
  }
  std::this_thread::sleep_for(kSettle);
  result.bareIdleKiB = bare->rssKiB();
  const auto bytes = static_cast<uint32_t>(result.messageBytes > 0 ? result.messageBytes : 2048);
  StreamFleet fleet(StreamFleet::Kind::Bare, socket, o.channels, o.streams, bytes);
  fleet.open();
  fleet.waitFirst(std::chrono::seconds(60));
  result.bareOpened = fleet.withFirst();
  std::this_thread::sleep_for(kSettle);
  result.bareStreamsKiB = bare->rssKiB();
  result.bareThreadsStreams = bare->threads();
  fleet.close();
  result.bareOpenLastMs = fleet.firstMessages().lastMs;
  noteFailures(fleet, result);
}

}  // namespace

StreamsResult measureStreams(const StreamsOptions& options) {
  StreamsResult result;
  runDaemonStreams(options, result);
  runBareStreams(options, result);
  return result;
}

}  // namespace lanyard::bench
