// SPDX-License-Identifier: Apache-2.0
// StreamFleet: thousands of server-streaming calls on a few connections, driven by gRPC's
// callback client (ClientReadReactor), recording when each stream's messages arrive.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "load_support.h"

namespace lanyard::bench {

/// What one stream saw. Written only by that stream's reactor callbacks (gRPC serialises
/// them); read by the owner after an acquire load of the matching counter.
struct StreamRecord {
  Clock::time_point firstAt{};
  Clock::time_point changedAt{};
  size_t firstKey = 0;
  bool changed = false;
};

/// Owned by one thread, which calls every public function; the reactors run on gRPC's
/// threads. The destructor cancels every stream and waits for them to finish.
class StreamFleet {
 public:
  enum class Kind {
    /// SpiffeWorkloadAPI.FetchX509SVID against lanyardd; a message's key is its first leaf.
    Workload,
    /// BenchEcho.Watch against the bare server; every message has the same key.
    Bare,
  };

  /// Nothing is opened yet. `bareBytes` is the size Watch asks for.
  StreamFleet(Kind kind, std::string socketPath, int channels, int streams, uint32_t bareBytes);
  ~StreamFleet();
  StreamFleet(const StreamFleet&) = delete;
  StreamFleet& operator=(const StreamFleet&) = delete;

  /// Creates the channels (one connection each) and starts every stream round-robin on them.
  void open();
  /// Waits until every stream has had a first message or has ended; true when all have a
  /// first message.
  bool waitFirst(Clock::duration timeout);
  /// Waits until every stream that began on the most common first SVID has seen a different
  /// one (a rotation push), or until `timeout`. True when all have.
  bool waitChanged(Clock::duration timeout);
  /// Cancels every stream and waits (at most 30 s) for gRPC to finish them.
  void close();

  int streams() const { return streams_; }
  int withFirst() const { return first_.load(std::memory_order_acquire); }
  int ended() const { return done_.load(std::memory_order_acquire); }
  /// Streams that ended with a status other than OK or CANCELLED, and the last such status.
  int failed() const { return failed_.load(); }
  std::string lastError() const;
  /// Serialized size of a first message.
  size_t messageBytes() const { return bytes_.load(); }
  Clock::time_point openedAt() const { return openedAt_; }

  /// Arrival of the first messages, and of the changed messages, over the streams that
  /// started on the common SVID (milliseconds from open()).
  struct Spread {
    int eligible = 0;
    int received = 0;
    double firstMs = 0;
    double lastMs = 0;
  };
  Spread firstMessages() const;
  Spread changes() const;

  /// One stream's reactor (defined in the .cpp); the fleet keeps it to cancel it.
  struct Reader;

  /// Called by the reactors.
  void onMessage(size_t index, size_t key, size_t bytes, Clock::time_point at);
  void onDone(const grpc::Status& status);

 private:
  size_t commonFirstKey() const;

  const Kind kind_;
  const std::string socketPath_;
  const int channels_;
  const int streams_;
  const uint32_t bareBytes_;
  Clock::time_point openedAt_{};
  std::vector<std::shared_ptr<grpc::Channel>> connections_;
  std::vector<std::shared_ptr<void>> stubs_;
  std::vector<std::unique_ptr<Reader>> readers_;
  std::vector<StreamRecord> records_;
  std::atomic<int> first_{0};
  std::atomic<int> changed_{0};
  std::atomic<int> done_{0};
  std::atomic<int> failed_{0};
  std::atomic<size_t> bytes_{0};
  mutable std::mutex errorMu_;  // guards lastError_
  std::string lastError_;
  bool closed_ = false;
};

}  // namespace lanyard::bench
