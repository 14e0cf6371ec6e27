// SPDX-License-Identifier: Apache-2.0
// WorkerPool: the few threads that attest callers and mint, so that gRPC's callback threads
// never block (DESIGN.md §1).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lanyard::workload_api {

/// A fixed set of threads running posted tasks in order. Owned by the Server; post() is
/// thread-safe. The destructor runs what is queued, then joins.
class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task`; it must not throw.
  void post(std::function<void()> task);
  /// Tasks queued and not yet started.
  size_t queued() const;

 private:
  void run();

  mutable std::mutex mu_;  // guards tasks_ and stopping_
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace lanyard::workload_api
