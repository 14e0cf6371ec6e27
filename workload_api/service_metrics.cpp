// SPDX-License-Identifier: Apache-2.0
// ServiceMetrics: denied calls and open streams of the Workload API.
#include "workload_api/service_metrics.h"

#include "common/result.h"

namespace lanyard::workload_api {

const char* denyReasonName(DenyReason reason) {
  switch (reason) {
    case DenyReason::SecurityHeader:
      return "security_header";
    case DenyReason::InvalidRequest:
      return "invalid_request";
    case DenyReason::InvalidToken:
      return "invalid_token";
    case DenyReason::Attestation:
      return "attestation";
    case DenyReason::NoIdentity:
      return "no_identity";
    case DenyReason::Unavailable:
      return "unavailable";
  }
  return "unknown";
}

ServiceMetrics::ServiceMetrics(metrics::Registry& registry)
    : denied_(registry.counter("lanyard_workload_calls_denied_total",
                               "Workload API calls that ended with an error status, by reason "
                               "and gRPC status code",
                               {"reason", "code"})),
      streams_(registry.gauge("lanyard_workload_streams_open",
                              "Workload API streams open now, by RPC", {"rpc"})) {
  // The stream RPCs are always listed, at 0 until a stream opens.
  for (const char* rpc : {"FetchX509SVID", "FetchX509Bundles", "FetchJWTBundles"}) {
    streams_.with({rpc});
  }
}

void ServiceMetrics::denied(DenyReason reason, const grpc::Status& status) {
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) {
    return;
  }
  denied_.with({denyReasonName(reason), codeName(static_cast<Code>(status.error_code()))}).inc();
}

metrics::Gauge& ServiceMetrics::streamsOpen(std::string_view rpc) {
  return streams_.with({std::string(rpc)});
}

}  // namespace lanyard::workload_api
