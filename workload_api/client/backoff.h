// SPDX-License-Identifier: Apache-2.0
// Backoff: go-spiffe's linear reconnect delay for Workload API watches (WAPI-16).
#pragma once

#include <chrono>

namespace lanyard::workload_api {

/// The delay before each reconnect attempt: initial, 2 × initial, 3 × initial, … capped at
/// `max`, back to `initial` after reset() (go-spiffe workloadapi/backoff.go: 1 s, 2 s, 3 s …
/// 30 s). Owned by one watch loop; not thread-safe.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max) {}

  /// The next delay; each call moves one step further.
  std::chrono::milliseconds next();
  /// Starts over from `initial`: called after every received message (WAPI-16).
  void reset() { attempts_ = 0; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  long attempts_ = 0;
};

}  // namespace lanyard::workload_api
