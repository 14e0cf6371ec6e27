// SPDX-License-Identifier: Apache-2.0
// PushStream: one server-streaming Workload API call that sends the current state at once and
// again on every change, with one write in flight and newer states coalesced (WAPI-6).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "workload_api/service.h"

namespace lanyard::workload_api {

/// Computes a stream's next message from the caller's selectors. Keeps what it last produced,
/// so that it can say "unchanged" (nullopt). An error ends the stream with its status.
/// Used by one thread at a time (the stream serialises calls).
template <class Response>
class StreamProducer {
 public:
  virtual ~StreamProducer() = default;
  virtual Result<std::optional<Response>> next(IdentitySource& source,
                                               const Selectors& selectors) = 0;
};

/// The reactor of one stream. It owns itself (through a shared_ptr to itself) from start()
/// until gRPC calls OnDone(); tasks on the worker pool and the IdentitySource's listener list
/// hold it through shared/weak pointers, so it outlives every use. mu_ guards the state below.
template <class Response>
class PushStream final : public grpc::ServerWriteReactor<Response>,
                         public ChangeListener,
                         public std::enable_shared_from_this<PushStream<Response>> {
 public:
  PushStream(ServiceContext& ctx, std::unique_ptr<StreamProducer<Response>> producer,
             const char* method)
      : ctx_(ctx),
        producer_(std::move(producer)),
        method_(method),
        openGauge_(ctx.metrics.streamsOpen(method)) {}

  /// Starts the call: checks the header (on gRPC's thread), then attests on the pool.
  grpc::ServerWriteReactor<Response>* start(grpc::CallbackServerContext* call) {
    self_ = this->shared_from_this();
    ctx_.openStreams.fetch_add(1, std::memory_order_relaxed);
    openGauge_.inc();
    if (grpc::Status header = checkSecurityHeader(*call); !header.ok()) {
      ctx_.metrics.denied(DenyReason::SecurityHeader, header);
      finish(header);
      return this;
    }
    {
      std::lock_guard lock(mu_);
      busy_ = true;  // the first computation runs after attestation
    }
    ctx_.pool.post(
        [self = this->shared_from_this(), peer = call->peer()] { self->attestAndRun(peer); });
    return this;
  }

  void onChange() override {
    {
      std::lock_guard lock(mu_);
      if (finished_) {
        return;
      }
      if (busy_) {
        again_ = true;  // the running computation goes round once more
        return;
      }
      busy_ = true;
    }
    ctx_.pool.post([self = this->shared_from_this()] { self->run(); });
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finishNow;
    {
      std::lock_guard lock(mu_);
      if (!ok && !finished_) {
        finished_ = true;  // the client went away
        finishStatus_ = grpc::Status::CANCELLED;
      }
      if (finished_) {
        writing_ = false;
        finishNow = finishStatus_;
      } else if (pending_) {
        current_ = std::move(*pending_);
        pending_.reset();
      } else {
        writing_ = false;
        return;
      }
    }
    if (finishNow) {
      this->Finish(*finishNow);
    } else {
      this->StartWrite(&current_);
    }
  }

  void OnCancel() override { finish(grpc::Status::CANCELLED); }

  void OnDone() override {
    std::shared_ptr<PushStream> keep;  // released last, after the lock
    {
      std::lock_guard lock(mu_);
      finished_ = true;
      keep = std::move(self_);
    }
    ctx_.openStreams.fetch_sub(1, std::memory_order_relaxed);
    openGauge_.dec();
  }

 private:
  void attestAndRun(const std::string& peer) {
    auto selectors = attestPeer(ctx_, peer);
    if (!selectors) {
      log::get("workload_api")->debug("{}: {}", method_, selectors.error().message);
      ctx_.metrics.denied(DenyReason::Attestation, toStatus(selectors.error()));
      finish(toStatus(selectors.error()));
      return;
    }
    selectors_ = std::move(*selectors);
    ctx_.source.subscribe(this->weak_from_this());
    run();
  }

  // Runs on the pool with busy_ set; goes round again while changes arrived meanwhile.
  void run() {
    for (;;) {
      auto message = producer_->next(ctx_.source, selectors_);
      if (!message) {
        log::get("workload_api")->debug("{}: ending stream: {}", method_, message.error().message);
        ctx_.metrics.denied(sourceDenyReason(message.error()), toStatus(message.error()));
        finish(toStatus(message.error()));
      } else if (*message) {
        deliver(std::move(**message));
      }
      std::lock_guard lock(mu_);
      if (!again_ || finished_) {
        busy_ = false;
        return;
      }
      again_ = false;
    }
  }

  void deliver(Response message) {
    {
      std::lock_guard lock(mu_);
      if (finished_) {
        return;
      }
      if (writing_) {
        pending_ = std::move(message);  // coalesce: only the newest state is sent next
        return;
      }
      writing_ = true;
      current_ = std::move(message);
    }
    this->StartWrite(&current_);
  }

  void finish(grpc::Status status) {
    {
      std::lock_guard lock(mu_);
      if (finished_) {
        return;
      }
      finished_ = true;
      if (writing_) {
        finishStatus_ = std::move(status);  // OnWriteDone finishes
        return;
      }
    }
    this->Finish(status);
  }

  ServiceContext& ctx_;
  const std::unique_ptr<StreamProducer<Response>> producer_;  // used by the busy_ holder only
  const char* method_;
  metrics::Gauge& openGauge_;  // lanyard_workload_streams_open{rpc=method_}
  Selectors selectors_;        // set once, before busy_ is first released

  std::mutex mu_;  // guards everything below
  std::shared_ptr<PushStream> self_;
  bool busy_ = false;
  bool again_ = false;
  bool writing_ = false;
  bool finished_ = false;
  grpc::Status finishStatus_;
  Response current_;  // the message being written; touched only by the writing_ holder
  std::optional<Response> pending_;
};

}  // namespace lanyard::workload_api
