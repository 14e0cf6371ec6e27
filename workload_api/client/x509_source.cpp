// SPDX-License-Identifier: Apache-2.0
// X509Source: the background FetchX509SVID watch and the wait for its first message.
#include "workload_api/client/x509_source.h"

#include <string>
#include <utility>

namespace lanyard::workload_api {

Result<std::unique_ptr<X509Source>> X509Source::create(std::unique_ptr<Client> client,
                                                       std::chrono::milliseconds startTimeout) {
  std::unique_ptr<X509Source> source(new X509Source(std::move(client)));
  source->thread_ = std::jthread([s = source.get()](std::stop_token stop) { s->run(stop); });
  std::unique_lock lock(source->mutex_);
  bool ready = source->changed_.wait_for(
      lock, startTimeout, [&] { return source->current_ != nullptr || source->ended_; });
  if (source->current_ != nullptr) {
    lock.unlock();
    return source;
  }
  std::string context =
      "waiting for the first X.509-SVID from " + source->client_->endpoint().address;
  Error error = ready && source->lastError_
                    ? source->lastError_->wrap(context)
                    : Error{Code::DeadlineExceeded,
                            context + ": nothing received within " +
                                std::to_string(startTimeout.count()) + " ms" +
                                (source->lastError_ ? "; last error: " + source->lastError_->message
                                                    : std::string())};
  lock.unlock();
  return fail(std::move(error));  // ~X509Source stops the watch
}

X509Source::~X509Source() {
  thread_.request_stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void X509Source::run(std::stop_token stop) {
  auto result = client_->watchX509Context(
      stop,
      [this](X509Context context) {
        auto shared = std::make_shared<const X509Context>(std::move(context));
        std::lock_guard lock(mutex_);
        current_ = std::move(shared);
        ++updates_;
        changed_.notify_all();
      },
      [this](const Error& error) {
        std::lock_guard lock(mutex_);
        lastError_ = error;
      });
  std::lock_guard lock(mutex_);
  if (!result) {
    lastError_ = result.error();
  }
  ended_ = true;
  changed_.notify_all();
}

std::shared_ptr<const X509Context> X509Source::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

uint64_t X509Source::updates() const {
  std::lock_guard lock(mutex_);
  return updates_;
}

std::optional<Error> X509Source::watchError() const {
  std::lock_guard lock(mutex_);
  if (!ended_) {
    return std::nullopt;
  }
  return lastError_;
}

}  // namespace lanyard::workload_api
