// SPDX-License-Identifier: Apache-2.0
// X509Source: an always-current X.509 context kept up to date by a background watch (WAPI-16).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/result.h"
#include "workload_api/client/client.h"
#include "workload_api/client/x509_context.h"

namespace lanyard::workload_api {

/// Watches FetchX509SVID on its own thread and keeps the newest context, like go-spiffe's
/// workloadapi.X509Source. Owns its Client. current(), updates() and watchError() are
/// thread-safe; destruction stops the watch (cancelling the call) and joins the thread.
class X509Source {
 public:
  /// Starts the watch and blocks until the first message that parses arrives (WAPI-16).
  /// Fails with the watch's error if it ends first (INVALID_ARGUMENT, CANCELLED), or with
  /// DeadlineExceeded, naming the last error seen, after `startTimeout`.
  static Result<std::unique_ptr<X509Source>> create(std::unique_ptr<Client> client,
                                                    std::chrono::milliseconds startTimeout);
  ~X509Source();
  X509Source(const X509Source&) = delete;
  X509Source& operator=(const X509Source&) = delete;

  /// The newest context; never null after create() succeeded.
  std::shared_ptr<const X509Context> current() const;
  /// How many contexts have been received so far (the first one included).
  uint64_t updates() const;
  /// The error that ended the watch, once it has ended; the source then keeps serving the last
  /// context it received.
  std::optional<Error> watchError() const;

 private:
  explicit X509Source(std::unique_ptr<Client> client) : client_(std::move(client)) {}
  void run(std::stop_token stop);

  std::unique_ptr<Client> client_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;             // signalled with mutex_ held
  std::shared_ptr<const X509Context> current_;  // guarded by mutex_
  uint64_t updates_ = 0;                        // guarded by mutex_
  std::optional<Error> lastError_;              // guarded by mutex_
  bool ended_ = false;                          // guarded by mutex_
  std::jthread thread_;  // last: stopped and joined before the members it uses go away
};

}  // namespace lanyard::workload_api
