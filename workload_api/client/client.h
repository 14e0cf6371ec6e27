// SPDX-License-Identifier: Apache-2.0
// Client: the SPIFFE Workload API from a workload's side, over gRPC (WAPI-2 … WAPI-16).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "svid/bundle.h"
#include "svid/jwt_svid.h"
#include "svid/spiffe_id.h"
#include "workload_api/client/endpoint_address.h"
#include "workload_api/client/x509_context.h"

namespace lanyard::workload_api {

/// How a Client calls the endpoint.
struct ClientOptions {
  /// Deadline of each unary call and of the first message of a one-shot stream fetch. Watches
  /// have no deadline.
  std::chrono::milliseconds timeout{5000};
  /// Reconnect backoff of watches: initial, 2 × initial, … capped at backoffMax (WAPI-16).
  /// Tests shorten both.
  std::chrono::milliseconds backoffInitial{1000};
  std::chrono::milliseconds backoffMax{30000};
};

/// One JWT-SVID from FetchJWTSVID, parsed without verification (the channel is trusted, as in
/// go-spiffe), with its optional hint.
struct JwtIdentity {
  svid::JwtSvid svid;
  std::string hint;
};

/// What ValidateJWTSVID answered for a valid token (WAPI-14).
struct ValidatedJwt {
  svid::SpiffeId spiffeId;
  /// The token's claims, converted from google.protobuf.Struct: numbers with no fractional
  /// part within ±2^53 become JSON integers ("exp": 1700000000), others stay doubles.
  nlohmann::json claims;
};

using X509ContextCallback = std::function<void(X509Context)>;
using BundleMapCallback = std::function<void(svid::BundleMap)>;
using WatchErrorCallback = std::function<void(const Error&)>;

/// A connection to one Workload API endpoint. Every SpiffeWorkloadAPI call carries the
/// `workload.spiffe.io: true` metadata (WAPI-4). Failed calls return an Error whose code is
/// the gRPC status code and whose message names the operation and the address:
/// "fetching X.509-SVIDs from unix:///tmp/x.sock: permission denied: <server message>".
/// Thread-safe: any number of threads may call and watch at once.
class Client {
 public:
  /// Parses `address` with parseEndpointAddress() and creates the channel (it connects lazily,
  /// so an absent socket is only reported by the first call).
  static Result<std::unique_ptr<Client>> create(std::string_view address,
                                                ClientOptions options = {});
  /// The same with an already parsed endpoint.
  static Result<std::unique_ptr<Client>> create(Endpoint endpoint, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }
  const ClientOptions& options() const { return options_; }

  /// The first FetchX509SVID message: the caller's SVIDs (element 0 the default) and bundles.
  Result<X509Context> fetchX509Context() const;
  /// The first FetchX509Bundles message: X.509 bundles by trust domain (WAPI-12).
  Result<svid::BundleMap> fetchX509Bundles() const;
  /// FetchJWTSVID for `audiences` (at least one) and optionally one identity: each token is
  /// parsed (not verified) and must name one of `audiences` and its `spiffe_id` (WAPI-13).
  Result<std::vector<JwtIdentity>> fetchJwtSvids(
      const std::vector<std::string>& audiences,
      const std::optional<svid::SpiffeId>& spiffeId = std::nullopt) const;
  /// The first FetchJWTBundles message: JWT bundles (JWKS) by trust domain (WAPI-12).
  Result<svid::BundleMap> fetchJwtBundles() const;
  /// ValidateJWTSVID: the server's verdict on `token` for `audience`. An invalid token is an
  /// InvalidArgument error carrying the server's reason (WAPI-5, WAPI-14).
  Result<ValidatedJwt> validateJwtSvid(std::string_view token, std::string_view audience) const;
  /// grpc.health.v1.Health/Check for service "": ok when SERVING, Unavailable naming the
  /// status otherwise, or the call's error.
  Result<void> checkHealth() const;

  /// Streams FetchX509SVID and calls `onUpdate` with each message that parses, from the
  /// calling thread. A message that fails to parse is passed to `onError` and skipped; the
  /// stream stays open. Any other stream error goes to `onError` and the call is retried after
  /// the backoff (reset by every received message), except INVALID_ARGUMENT and CANCELLED,
  /// which end the watch with that error (WAPI-16, EP-7). Returns ok once `stop` is
  /// requested: the in-flight call is cancelled at once and a backoff wait ends early.
  Result<void> watchX509Context(std::stop_token stop, const X509ContextCallback& onUpdate,
                                const WatchErrorCallback& onError = {}) const;
  /// The same for FetchX509Bundles.
  Result<void> watchX509Bundles(std::stop_token stop, const BundleMapCallback& onUpdate,
                                const WatchErrorCallback& onError = {}) const;
  /// The same for FetchJWTBundles.
  Result<void> watchJwtBundles(std::stop_token stop, const BundleMapCallback& onUpdate,
                               const WatchErrorCallback& onError = {}) const;

 private:
  struct Stubs;
  Client(Endpoint endpoint, ClientOptions options, std::unique_ptr<Stubs> stubs);

  Endpoint endpoint_;
  ClientOptions options_;
  std::unique_ptr<Stubs> stubs_;
};

}  // namespace lanyard::workload_api
