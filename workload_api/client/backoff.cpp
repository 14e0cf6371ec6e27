// SPDX-License-Identifier: Apache-2.0
// The linear reconnect backoff of go-spiffe's Workload API client (WAPI-16).
#include "workload_api/client/backoff.h"

namespace lanyard::workload_api {

std::chrono::milliseconds Backoff::next() {
  // Stop counting once the cap is reached so the multiplication cannot overflow.
  if (initial_ * (attempts_ + 1) < max_) {
    ++attempts_;
    return initial_ * attempts_;
  }
  return max_;
}

}  // namespace lanyard::workload_api
