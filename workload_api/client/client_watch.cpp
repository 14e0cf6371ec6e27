// SPDX-License-Identifier: Apache-2.0
// Client watches: a server stream read until stopped, reconnecting with go-spiffe's backoff and
// skipping messages that do not parse (WAPI-16, EP-7).
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <utility>

#include "workload_api/client/backoff.h"
#include "workload_api/client/client.h"
#include "workload_api/client/client_stubs.h"
#include "workload_api/client/proto_convert.h"

namespace lanyard::workload_api {
namespace {

template <typename Response, typename Parsed>
struct Watch {
  std::string context;  // "watching X.509-SVIDs from <address>"
  std::function<std::unique_ptr<grpc::ClientReader<Response>>(grpc::ClientContext*)> start;
  std::function<Result<Parsed>(const Response&)> parse;
  const std::function<void(Parsed)>& onUpdate;
  const WatchErrorCallback& onError;
};

// Sleeps for `delay` unless `stop` is requested first.
void sleepUnlessStopped(const std::stop_token& stop, std::chrono::milliseconds delay) {
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  (void)cv.wait_for(lock, stop, delay, [] { return false; });
}

// One stream: reads until it ends, resetting the backoff on every message.
template <typename Response, typename Parsed>
grpc::Status readStream(const std::stop_token& stop, const Watch<Response, Parsed>& w,
                        Backoff& backoff) {
  grpc::ClientContext ctx;
  addSecurityHeader(ctx);
  // Cancelling the context ends a blocked Read() at once; a stop requested before the call
  // starts cancels it as it starts.
  std::stop_callback cancel(stop, [&ctx] { ctx.TryCancel(); });
  auto reader = w.start(&ctx);
  Response response;
  while (reader->Read(&response)) {
    backoff.reset();
    auto parsed = w.parse(response);
    if (!parsed) {
      // WAPI-16: report and skip; the stream stays open.
      if (w.onError) {
        w.onError(parsed.error().wrap(w.context + ": skipping a message that does not parse"));
      }
      continue;
    }
    w.onUpdate(std::move(*parsed));
  }
  return reader->Finish();
}

template <typename Response, typename Parsed>
Result<void> runWatch(const std::stop_token& stop, const ClientOptions& options,
                      const Watch<Response, Parsed>& w) {
  Backoff backoff(options.backoffInitial, options.backoffMax);
  while (!stop.stop_requested()) {
    grpc::Status status = readStream(stop, w, backoff);
    if (stop.stop_requested()) {
      break;
    }
    Error error =
        status.ok() ? Error{Code::Unavailable, w.context + ": the server ended the stream (WAPI-6)"}
                    : callError(status, w.context);
    // WAPI-16: INVALID_ARGUMENT and CANCELLED end the watch; everything else is retried.
    if (error.code == Code::InvalidArgument || error.code == Code::Cancelled) {
      return fail(std::move(error));
    }
    std::chrono::milliseconds delay = backoff.next();
    if (w.onError) {
      w.onError(Error{error.code,
                      error.message + " (retrying in " + std::to_string(delay.count()) + " ms)"});
    }
    sleepUnlessStopped(stop, delay);
  }
  return {};
}

}  // namespace

Result<void> Client::watchX509Context(std::stop_token stop, const X509ContextCallback& onUpdate,
                                      const WatchErrorCallback& onError) const {
  Watch<X509SVIDResponse, X509Context> w{"watching X.509-SVIDs from " + endpoint_.address,
                                         [this](grpc::ClientContext* ctx) {
                                           return stubs_->workload->FetchX509SVID(
                                               ctx, X509SVIDRequest());
                                         },
                                         &proto::toX509Context, onUpdate, onError};
  return runWatch(stop, options_, w);
}

Result<void> Client::watchX509Bundles(std::stop_token stop, const BundleMapCallback& onUpdate,
                                      const WatchErrorCallback& onError) const {
  Watch<X509BundlesResponse, svid::BundleMap> w{"watching X.509 bundles from " + endpoint_.address,
                                                [this](grpc::ClientContext* ctx) {
                                                  return stubs_->workload->FetchX509Bundles(
                                                      ctx, X509BundlesRequest());
                                                },
                                                &proto::toX509Bundles, onUpdate, onError};
  return runWatch(stop, options_, w);
}

Result<void> Client::watchJwtBundles(std::stop_token stop, const BundleMapCallback& onUpdate,
                                     const WatchErrorCallback& onError) const {
  Watch<JWTBundlesResponse, svid::BundleMap> w{"watching JWT bundles from " + endpoint_.address,
                                               [this](grpc::ClientContext* ctx) {
                                                 return stubs_->workload->FetchJWTBundles(
                                                     ctx, JWTBundlesRequest());
                                               },
                                               &proto::toJwtBundles, onUpdate, onError};
  return runWatch(stop, options_, w);
}

}  // namespace lanyard::workload_api
