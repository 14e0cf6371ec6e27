// SPDX-License-Identifier: Apache-2.0
// Fakes of the Workload API server's two interfaces, and a running Server on a temp socket,
// for the server's tests.
#pragma once

#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <grpcpp/grpcpp.h>

#include "svid/authority.h"
#include "workload.grpc.pb.h"
#include "workload_api/server.h"

namespace lanyard::workload_api::testing {

/// Attestation that reports fixed selectors (or a fixed error), and records each caller.
class FakeAttestation final : public WorkloadAttestation {
 public:
  Result<Selectors> attest(const attestors::Caller& caller,
                           attestors::Deadline /*deadline*/) const override {
    std::lock_guard lock(mu);
    callers.push_back(caller);
    if (attestError) {
      return fail(*attestError);
    }
    return selectors;
  }
  Result<uint64_t> startTime(pid_t /*pid*/) const override { return 42; }
  Result<void> confirmSameProcess(const attestors::Caller& /*caller*/,
                                  uint64_t startTime) const override {
    std::lock_guard lock(mu);
    if (replaced || startTime != 42) {
      return fail(Code::PermissionDenied, "caller's pid now names another process");
    }
    return {};
  }

  Result<ProcessStamp> processStamp(const attestors::Caller& caller) const override {
    std::lock_guard lock(mu);
    return ProcessStamp{.uid = stampUid.value_or(caller.uid), .key = stampKey};
  }

  mutable std::mutex mu;
  std::optional<uid_t> stampUid;
  std::string stampKey = "exe-1";
  Selectors selectors{{"unix", "uid:1000"}};
  std::optional<Error> attestError;
  bool replaced = false;
  mutable std::vector<attestors::Caller> callers;
};

/// An IdentitySource serving whatever the test sets, from a real self-signed Authority.
class FakeSource final : public IdentitySource {
 public:
  explicit FakeSource(const svid::Authority& authority) : authority_(authority) {}

  /// Sets the identities (empty: PermissionDenied) and tells the listeners when `notify`.
  void setIds(std::vector<std::string> ids, bool notify = true) {
    {
      std::lock_guard lock(mu_);
      ids_ = std::move(ids);
      ++generation_;
    }
    if (notify) {
      notifyAll();
    }
  }
  void notifyAll() {
    std::vector<std::shared_ptr<ChangeListener>> live;
    {
      std::lock_guard lock(mu_);
      for (auto& w : listeners_) {
        if (auto l = w.lock()) {
          live.push_back(std::move(l));
        }
      }
    }
    for (auto& l : live) {
      l->onChange();
    }
  }

  Result<X509View> x509View(const Selectors& /*selectors*/) override {
    std::lock_guard lock(mu_);
    if (ids_.empty()) {
      return fail(Code::PermissionDenied, "no identity issued");
    }
    X509View view;
    auto snapshot = authority_.current();
    for (const auto& text : ids_) {
      auto key = std::string(text) + "#" + std::to_string(generation_);
      auto& record = records_[key];
      if (!record) {
        auto id = svid::SpiffeId::parse(text);
        auto minted = snapshot->x509->mint(*id, {}, std::chrono::system_clock::now());
        record = std::make_shared<X509SvidRecord>(X509SvidRecord{
            .id = *id,
            .chainDer = minted->der,
            .keyDer = std::move(minted->keyDer),
            .hint = "",
            .notBefore = minted->notBefore,
            .notAfter = minted->notAfter,
        });
      }
      view.svids.push_back(record);
    }
    view.bundle = snapshot->bundle;
    return view;
  }
  Result<svid::BundleMap> bundles(const Selectors& selectors) override {
    {
      std::lock_guard lock(mu_);
      if (ids_.empty()) {
        return fail(Code::PermissionDenied, "no identity issued");
      }
    }
    return validationBundles(selectors);
  }
  Result<std::vector<JwtSvidRecord>> jwtSvids(const Selectors& /*selectors*/,
                                              const std::vector<std::string>& audience,
                                              const std::optional<svid::SpiffeId>& only) override {
    std::lock_guard lock(mu_);
    std::vector<JwtSvidRecord> out;
    auto snapshot = authority_.current();
    for (const auto& text : ids_) {
      if (only && only->str() != text) {
        continue;
      }
      auto id = svid::SpiffeId::parse(text);
      auto token = svid::mintJwtSvid(*snapshot->jwt, *id, audience,
                                     std::chrono::system_clock::now(), Seconds(300));
      out.push_back({text, *token, ""});
    }
    if (out.empty()) {
      return fail(Code::PermissionDenied, "no identity issued");
    }
    return out;
  }
  Result<svid::BundleMap> validationBundles(const Selectors& /*selectors*/) override {
    auto snapshot = authority_.current();
    svid::BundleMap out;
    out.emplace(snapshot->bundle->trustDomain(), snapshot->bundle);
    return out;
  }
  void subscribe(std::weak_ptr<ChangeListener> listener) override {
    std::lock_guard lock(mu_);
    listeners_.push_back(std::move(listener));
  }

 private:
  const svid::Authority& authority_;
  std::mutex mu_;
  std::vector<std::string> ids_{"spiffe://example.org/workload"};
  uint64_t generation_ = 0;
  std::map<std::string, std::shared_ptr<const X509SvidRecord>> records_;
  std::vector<std::weak_ptr<ChangeListener>> listeners_;
};

/// A Server with the fakes on `<dir>/agent.sock`, its io_context on a thread.
class RunningServer {
 public:
  explicit RunningServer(const std::string& dir)
      : authority_(*svid::Authority::create(
            {.trustDomain = *svid::TrustDomain::parse("example.org"), .dataDir = dir + "/ca"},
            clock_)),
        source_(*authority_),
        work_(boost::asio::make_work_guard(io_)) {
    auto server =
        Server::create(io_, {.socketPath = dir + "/agent.sock"}, attestation_, source_, clock_);
    if (!server) {
      throw std::runtime_error(server.error().message);
    }
    server_ = std::move(*server);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningServer() {
    boost::asio::post(io_, [this] { server_->shutdown(); });
    work_.reset();
    thread_.join();
  }

  std::shared_ptr<grpc::Channel> channel() const {
    return grpc::CreateChannel("unix://" + server_->socketPath(),
                               grpc::InsecureChannelCredentials());
  }
  std::unique_ptr<SpiffeWorkloadAPI::Stub> stub() const {
    return SpiffeWorkloadAPI::NewStub(channel());
  }

  SystemClock clock_;
  std::unique_ptr<svid::Authority> authority_;
  FakeAttestation attestation_;
  FakeSource source_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

/// A client context with the security header (WAPI-4) and a deadline.
inline std::unique_ptr<grpc::ClientContext> headerContext(int timeoutMs = 5000) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("workload.spiffe.io", "true");
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeoutMs));
  return ctx;
}

}  // namespace lanyard::workload_api::testing
