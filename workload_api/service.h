// SPDX-License-Identifier: Apache-2.0
// WorkloadService: the five SpiffeWorkloadAPI RPCs on gRPC's callback API (WAPI-2 … WAPI-14).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "common/clock.h"
#include "workload.grpc.pb.h"
#include "workload_api/jwt_validation_cache.h"
#include "workload_api/peer_table.h"
#include "workload_api/service_metrics.h"
#include "workload_api/worker_pool.h"
#include "workload_api/workload_attestation.h"

namespace lanyard::workload_api {

/// What every call of the service borrows. Owned by the Server, which outlives every call.
struct ServiceContext {
  const PeerTable& peers;
  WorkerPool& pool;
  const WorkloadAttestation& attestation;
  IdentitySource& source;
  const Clock& clock;
  /// Denied calls and open streams (docs/metrics.md).
  ServiceMetrics& metrics;
  /// How long one attestation may take.
  std::chrono::milliseconds attestTimeout{5000};
  /// How long a connection's attestation is reused for later calls on it, as long as the
  /// process is the same one with the same credentials and executable. Zero: never.
  std::chrono::milliseconds attestationReuse{10000};
  /// ValidateJWTSVID's remembered verifications.
  JwtValidationCache validations{};
  /// Streams open now (for tests, benchmarks and later metrics).
  std::atomic<int64_t> openStreams{0};
};

/// The Workload API. Each handler checks the security header on gRPC's thread (WAPI-4), then
/// attests and mints on the worker pool (DESIGN.md §1). The WIT RPCs keep the generated
/// UNIMPLEMENTED answer (WAPI-2). Thread-safe; borrows `context` for its lifetime.
class WorkloadService final : public SpiffeWorkloadAPI::CallbackService {
 public:
  explicit WorkloadService(ServiceContext& context) : ctx_(context) {}

  grpc::ServerWriteReactor<X509SVIDResponse>* FetchX509SVID(
      grpc::CallbackServerContext* call, const X509SVIDRequest* request) override;
  grpc::ServerWriteReactor<X509BundlesResponse>* FetchX509Bundles(
      grpc::CallbackServerContext* call, const X509BundlesRequest* request) override;
  grpc::ServerWriteReactor<JWTBundlesResponse>* FetchJWTBundles(
      grpc::CallbackServerContext* call, const JWTBundlesRequest* request) override;
  grpc::ServerUnaryReactor* FetchJWTSVID(grpc::CallbackServerContext* call,
                                         const JWTSVIDRequest* request,
                                         JWTSVIDResponse* response) override;
  grpc::ServerUnaryReactor* ValidateJWTSVID(grpc::CallbackServerContext* call,
                                            const ValidateJWTSVIDRequest* request,
                                            ValidateJWTSVIDResponse* response) override;

 private:
  ServiceContext& ctx_;
};

/// WAPI-4: the call carries exactly one `workload.spiffe.io` value, and it is "true".
/// INVALID_ARGUMENT otherwise.
grpc::Status checkSecurityHeader(const grpc::CallbackServerContext& call);

/// The gRPC status for an Error (Code mirrors gRPC's codes).
grpc::Status toStatus(const Error& error);

/// Why an IdentitySource call failed, for ServiceMetrics: no matching entry, or unavailable.
DenyReason sourceDenyReason(const Error& error);

/// Attests the caller of a call whose gRPC peer string is `peer`: finds the connection in the
/// peer table, asks the attestation (or reuses the connection's last one while the process's
/// stamp is unchanged), then re-checks the process (the PID race) and that it still runs as
/// the uid it connected with. Runs on the worker pool.
Result<Selectors> attestPeer(const ServiceContext& ctx, const std::string& peer);

}  // namespace lanyard::workload_api
