// SPDX-License-Identifier: Apache-2.0
// Test fixture: an in-process SpiffeWorkloadAPI and health server on a temp-dir Unix socket,
// serving SVIDs and bundles minted with svid/, with scriptable errors and call records.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "health.grpc.pb.h"
#include "svid/jwt_svid.h"
#include "svid/test_ca.h"
#include "workload.grpc.pb.h"

namespace lanyard::testing {

using Clock = std::chrono::steady_clock;

/// A script for one FetchX509SVID call: `call` counts from 1. Return the call's status.
using X509Handler = std::function<grpc::Status(int call, grpc::ServerContext* ctx,
                                               grpc::ServerWriter<X509SVIDResponse>* writer)>;

/// Waits until the client cancels the call (or the server shuts down).
inline grpc::Status holdOpen(grpc::ServerContext* ctx) {
  while (!ctx->IsCancelled()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return grpc::Status::CANCELLED;
}

/// The Workload API service. Public fields are set by the test before calls are made, or under
/// `mutex` while the server runs.
class FakeWorkloadApi final : public SpiffeWorkloadAPI::Service {
 public:
  std::mutex mutex;
  X509SVIDResponse x509;  // guarded by mutex; served first, then again on each setX509()
  int x509Version = 0;    // guarded by mutex
  X509BundlesResponse x509Bundles;
  JWTBundlesResponse jwtBundles;
  svid::BundleMap jwtValidationBundles;  // what ValidateJWTSVID verifies with
  std::unique_ptr<svid::JwtSigner> signer;
  X509Handler x509Handler;                       // overrides the default FetchX509SVID behaviour
  grpc::Status failAll = grpc::Status::OK;       // when not OK, every call fails with it
  std::vector<Clock::time_point> x509CallTimes;  // guarded by mutex
  JWTSVIDRequest lastJwtRequest;                 // guarded by mutex
  std::atomic<int> calls{0};
  std::atomic<int> callsWithoutHeader{0};

  /// Replaces the X.509 response; open default streams send it (rotation).
  void setX509(X509SVIDResponse r) {
    std::lock_guard lock(mutex);
    x509 = std::move(r);
    ++x509Version;
  }

  grpc::Status FetchX509SVID(grpc::ServerContext* ctx, const X509SVIDRequest*,
                             grpc::ServerWriter<X509SVIDResponse>* writer) override {
    int call = 0;
    {
      std::lock_guard lock(mutex);
      x509CallTimes.push_back(Clock::now());
      call = static_cast<int>(x509CallTimes.size());
    }
    if (auto s = admit(ctx); !s.ok()) {
      return s;
    }
    if (x509Handler) {
      return x509Handler(call, ctx, writer);
    }
    int sent = -1;
    while (!ctx->IsCancelled()) {
      std::optional<X509SVIDResponse> next;
      {
        std::lock_guard lock(mutex);
        if (x509Version != sent) {
          next = x509;
          sent = x509Version;
        }
      }
      if (next) {
        writer->Write(*next);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return grpc::Status::CANCELLED;
  }

  grpc::Status FetchX509Bundles(grpc::ServerContext* ctx, const X509BundlesRequest*,
                                grpc::ServerWriter<X509BundlesResponse>* writer) override {
    if (auto s = admit(ctx); !s.ok()) {
      return s;
    }
    writer->Write(x509Bundles);
    return holdOpen(ctx);
  }

  grpc::Status FetchJWTBundles(grpc::ServerContext* ctx, const JWTBundlesRequest*,
                               grpc::ServerWriter<JWTBundlesResponse>* writer) override {
    if (auto s = admit(ctx); !s.ok()) {
      return s;
    }
    writer->Write(jwtBundles);
    return holdOpen(ctx);
  }

  grpc::Status FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* request,
                            JWTSVIDResponse* response) override {
    if (auto s = admit(ctx); !s.ok()) {
      return s;
    }
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mutex);
      lastJwtRequest = *request;
      if (!request->spiffe_id().empty()) {
        ids.push_back(request->spiffe_id());
      } else {
        for (const auto& s : x509.svids()) {
          ids.push_back(s.spiffe_id());
        }
      }
    }
    std::vector<std::string> aud(request->audience().begin(), request->audience().end());
    for (const auto& id : ids) {
      auto token =
          svid::mintJwtSvid(*signer, sid(id), aud, SystemClock::instance().now(), Seconds(300));
      if (!token) {
        return {grpc::StatusCode::INVALID_ARGUMENT, token.error().message};
      }
      auto* out = response->add_svids();
      out->set_spiffe_id(id);
      out->set_svid(*token);
    }
    return grpc::Status::OK;
  }

  grpc::Status ValidateJWTSVID(grpc::ServerContext* ctx, const ValidateJWTSVIDRequest* request,
                               ValidateJWTSVIDResponse* response) override {
    if (auto s = admit(ctx); !s.ok()) {
      return s;
    }
    auto jwt = svid::validateJwtSvid(request->svid(), jwtValidationBundles, request->audience(),
                                     SystemClock::instance().now());
    if (!jwt) {
      return {grpc::StatusCode::INVALID_ARGUMENT, jwt.error().message};
    }
    response->set_spiffe_id(jwt->subject.str());
    auto st =
        google::protobuf::util::JsonStringToMessage(jwt->claims.dump(), response->mutable_claims());
    return st.ok() ? grpc::Status::OK : grpc::Status(grpc::StatusCode::INTERNAL, "claims");
  }

 private:
  // WAPI-4: exactly one `workload.spiffe.io: true`, checked before anything else.
  grpc::Status admit(grpc::ServerContext* ctx) {
    ++calls;
    const auto& md = ctx->client_metadata();
    auto range = md.equal_range("workload.spiffe.io");
    bool ok = std::distance(range.first, range.second) == 1 && range.first->second == "true";
    if (!ok) {
      ++callsWithoutHeader;
      return {grpc::StatusCode::INVALID_ARGUMENT, "security header missing from request"};
    }
    return failAll;
  }
};

/// grpc.health.v1.Health with a settable status.
class FakeHealth final : public grpc::health::v1::Health::Service {
 public:
  std::atomic<int> status{grpc::health::v1::HealthCheckResponse::SERVING};
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (!request->service().empty()) {
      return {grpc::StatusCode::NOT_FOUND, "unknown service"};
    }
    response->set_status(
        static_cast<grpc::health::v1::HealthCheckResponse::ServingStatus>(status.load()));
    return grpc::Status::OK;
  }
};

/// Identities for the fake: example.org (CA, SVIDs for /web and /db, JWT key) and a federated
/// other.org CA.
struct Identities {
  SysTime now = SystemClock::instance().now();
  TestCa ca = makeTestCa("example.org", now);
  TestCa federated = makeTestCa("other.org", now);
  svid::X509Svid web = mint("spiffe://example.org/web");
  svid::X509Svid db = mint("spiffe://example.org/db");

  svid::X509Svid mint(const std::string& id) {
    auto s = ca.issuer->mint(sid(id), {}, now);
    REQUIRE(s);
    return std::move(*s);
  }
  std::string caDer() const { return ca.bundles.begin()->second->x509Der(); }

  static X509SVID toProto(const svid::X509Svid& s, const std::string& bundleDer,
                          const std::string& hint = {}) {
    X509SVID out;
    out.set_spiffe_id(s.id.str());
    out.set_x509_svid(s.chainDer());
    out.set_x509_svid_key(s.keyDer.str());
    out.set_bundle(bundleDer);
    out.set_hint(hint);
    return out;
  }

  /// web (default, hint "internal"), db, and other.org federated.
  X509SVIDResponse x509Response() const {
    X509SVIDResponse r;
    *r.add_svids() = toProto(web, caDer(), "internal");
    *r.add_svids() = toProto(db, caDer(), "external");
    (*r.mutable_federated_bundles())["spiffe://other.org"] =
        federated.bundles.begin()->second->x509Der();
    return r;
  }
};

/// The server: both services on `<dir>/agent.sock`, started in the constructor.
class FakeServer {
 public:
  explicit FakeServer(const std::string& dir) : socketPath_(dir + "/agent.sock") {
    auto& key = keys_;
    key = *svid::generateKey(svid::KeyType::EcP256);
    auto signer = svid::JwtSigner::create(ossl::upRef(key.get()), "kid-1");
    REQUIRE(signer);
    api.signer = std::make_unique<svid::JwtSigner>(std::move(*signer));
    auto jwtBundle = std::make_shared<svid::Bundle>(td("example.org"));
    REQUIRE(jwtBundle->addJwtAuthority("kid-1", key.get()));
    api.jwtValidationBundles[td("example.org")] = jwtBundle;
    api.x509 = ids.x509Response();
    api.x509Version = 1;
    (*api.x509Bundles.mutable_bundles())["spiffe://example.org"] = ids.caDer();
    (*api.x509Bundles.mutable_bundles())["spiffe://other.org"] =
        ids.federated.bundles.begin()->second->x509Der();
    (*api.jwtBundles.mutable_bundles())["spiffe://example.org"] = *jwtBundle->jwtBundleJson();

    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + socketPath_, grpc::InsecureServerCredentials());
    builder.RegisterService(&api);
    builder.RegisterService(&health);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~FakeServer() {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  /// "unix://<dir>/agent.sock".
  std::string address() const { return "unix://" + socketPath_; }
  const std::string& socketPath() const { return socketPath_; }

  Identities ids;
  FakeWorkloadApi api;
  FakeHealth health;

 private:
  std::string socketPath_;
  ossl::UniquePtr<EVP_PKEY> keys_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace lanyard::testing
