// SPDX-License-Identifier: Apache-2.0
// ServiceMetrics: what the Workload API service records — calls refused, by reason and status
// code, and the streams open per RPC (docs/metrics.md).
#pragma once

#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "common/metrics.h"

namespace lanyard::workload_api {

/// Why a call ended with an error status; the `reason` label of
/// lanyard_workload_calls_denied_total.
enum class DenyReason {
  SecurityHeader,  // WAPI-4: missing or wrong workload.spiffe.io header
  InvalidRequest,  // WAPI-5: missing audience, bad spiffe_id, empty svid
  InvalidToken,    // ValidateJWTSVID: the token does not validate
  Attestation,     // the caller could not be attested or changed meanwhile
  NoIdentity,      // no entry matches the caller (PERMISSION_DENIED)
  Unavailable,     // minting or the bundle failed (retriable)
};

/// The label value of a reason ("security_header", ...).
const char* denyReasonName(DenyReason reason);

/// Families in a borrowed Registry. Thread-safe. Owned by the Server.
class ServiceMetrics {
 public:
  explicit ServiceMetrics(metrics::Registry& registry);

  /// Counts a call that ended with `status` (not OK, not CANCELLED) for `reason`.
  void denied(DenyReason reason, const grpc::Status& status);
  /// The open-streams gauge of one RPC ("FetchX509SVID", ...).
  metrics::Gauge& streamsOpen(std::string_view rpc);

 private:
  metrics::Family<metrics::Counter>& denied_;
  metrics::Family<metrics::Gauge>& streams_;
};

}  // namespace lanyard::workload_api
