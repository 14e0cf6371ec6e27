// SPDX-License-Identifier: Apache-2.0
// StreamFleet: one ClientReadReactor per stream, so that 10,000 streams need no thread each.
#include "stream_fleet.h"

#include <algorithm>
#include <functional>
#include <map>
#include <thread>

#include "bench_echo.grpc.pb.h"
#include "workload.grpc.pb.h"

namespace lanyard::bench {

// The part of a reactor the fleet keeps: its context, to cancel it.
struct StreamFleet::Reader {
  virtual ~Reader() = default;
  grpc::ClientContext context;
};

namespace {

size_t keyOf(const X509SVIDResponse& r) {
  return r.svids_size() == 0 ? 0 : std::hash<std::string>{}(r.svids(0).x509_svid());
}
size_t keyOf(const WatchReply& /*r*/) { return 1; }

template <class Request, class Response>
class ReaderOf final : public StreamFleet::Reader, public grpc::ClientReadReactor<Response> {
 public:
  ReaderOf(StreamFleet& fleet, size_t index) : fleet_(fleet), index_(index) {}

  void OnReadDone(bool ok) override {
    if (!ok) {
      return;  // OnDone follows
    }
    fleet_.onMessage(index_, keyOf(response_), response_.ByteSizeLong(), Clock::now());
    this->StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override { fleet_.onDone(status); }

  /// Starts the call with its first read (after the stub's async() call set it up).
  void begin() {
    this->StartRead(&response_);
    this->StartCall();
  }

  Request request;

 private:
  StreamFleet& fleet_;
  const size_t index_;
  Response response_;
};

using WorkloadReader = ReaderOf<X509SVIDRequest, X509SVIDResponse>;
using BareReader = ReaderOf<WatchRequest, WatchReply>;

bool waitUntil(Clock::duration timeout, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

StreamFleet::StreamFleet(Kind kind, std::string socketPath, int channels, int streams,
                         uint32_t bareBytes)
    : kind_(kind),
      socketPath_(std::move(socketPath)),
      channels_(channels),
      streams_(streams),
      bareBytes_(bareBytes),
      records_(static_cast<size_t>(streams)) {}

StreamFleet::~StreamFleet() { close(); }

void StreamFleet::open() {
  openedAt_ = Clock::now();
  for (int c = 0; c < channels_; ++c) {
    connections_.push_back(newConnection(socketPath_));
    if (kind_ == Kind::Workload) {
      stubs_.push_back(std::shared_ptr<SpiffeWorkloadAPI::Stub>(
          SpiffeWorkloadAPI::NewStub(connections_.back())));
    } else {
      stubs_.push_back(std::shared_ptr<BenchEcho::Stub>(BenchEcho::NewStub(connections_.back())));
    }
  }
  for (int i = 0; i < streams_; ++i) {
    void* stub = stubs_[static_cast<size_t>(i % channels_)].get();
    if (kind_ == Kind::Workload) {
      auto reader = std::make_unique<WorkloadReader>(*this, static_cast<size_t>(i));
      addSecurityHeader(reader->context);
      static_cast<SpiffeWorkloadAPI::Stub*>(stub)->async()->FetchX509SVID(
          &reader->context, &reader->request, reader.get());
      reader->begin();
      readers_.push_back(std::move(reader));
    } else {
      auto reader = std::make_unique<BareReader>(*this, static_cast<size_t>(i));
      reader->request.set_size(bareBytes_);
      static_cast<BenchEcho::Stub*>(stub)->async()->Watch(&reader->context, &reader->request,
                                                          reader.get());
      reader->begin();
      readers_.push_back(std::move(reader));
    }
  }
}

bool StreamFleet::waitFirst(Clock::duration timeout) {
  waitUntil(timeout, [&] { return withFirst() + failed() >= streams_; });
  return withFirst() == streams_;
}

size_t StreamFleet::commonFirstKey() const {
  std::map<size_t, int> counts;
  for (const auto& r : records_) {
    if (r.firstAt != Clock::time_point{}) {
      ++counts[r.firstKey];
    }
  }
  auto best = std::max_element(counts.begin(), counts.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  return best == counts.end() ? 0 : best->first;
}

bool StreamFleet::waitChanged(Clock::duration timeout) {
  const size_t common = commonFirstKey();
  const int eligible =
      static_cast<int>(std::count_if(records_.begin(), records_.end(), [&](const StreamRecord& r) {
        return r.firstAt != Clock::time_point{} && r.firstKey == common;
      }));
  return waitUntil(timeout, [&] { return changed_.load(std::memory_order_acquire) >= eligible; });
}

void StreamFleet::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  for (auto& r : readers_) {
    r->context.TryCancel();
  }
  waitUntil(std::chrono::seconds(30), [&] { return ended() >= static_cast<int>(readers_.size()); });
  readers_.clear();
  stubs_.clear();
  connections_.clear();
}

std::string StreamFleet::lastError() const {
  std::lock_guard lock(errorMu_);
  return lastError_;
}

StreamFleet::Spread StreamFleet::firstMessages() const {
  Spread s;
  bool any = false;
  for (const auto& r : records_) {
    if (r.firstAt == Clock::time_point{}) {
      continue;
    }
    ++s.received;
    const double ms = micros(r.firstAt - openedAt_) / 1000.0;
    s.firstMs = any ? std::min(s.firstMs, ms) : ms;
    s.lastMs = any ? std::max(s.lastMs, ms) : ms;
    any = true;
  }
  s.eligible = streams_;
  return s;
}

StreamFleet::Spread StreamFleet::changes() const {
  Spread s;
  const size_t common = commonFirstKey();
  bool any = false;
  for (const auto& r : records_) {
    if (r.firstAt == Clock::time_point{} || r.firstKey != common) {
      continue;
    }
    ++s.eligible;
    if (!r.changed) {
      continue;
    }
    ++s.received;
    const double ms = micros(r.changedAt - openedAt_) / 1000.0;
    s.firstMs = any ? std::min(s.firstMs, ms) : ms;
    s.lastMs = any ? std::max(s.lastMs, ms) : ms;
    any = true;
  }
  return s;
}

void StreamFleet::onMessage(size_t index, size_t key, size_t bytes, Clock::time_point at) {
  StreamRecord& r = records_[index];
  if (r.firstAt == Clock::time_point{}) {
    r.firstAt = at;
    r.firstKey = key;
    bytes_.store(bytes);
    first_.fetch_add(1, std::memory_order_release);
  } else if (!r.changed && key != r.firstKey) {
    r.changed = true;
    r.changedAt = at;
    changed_.fetch_add(1, std::memory_order_release);
  }
}

void StreamFleet::onDone(const grpc::Status& status) {
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    failed_.fetch_add(1);
    std::lock_guard lock(errorMu_);
    lastError_ = std::to_string(status.error_code()) + ": " + status.error_message();
  }
  done_.fetch_add(1, std::memory_order_release);
}

}  // namespace lanyard::bench
