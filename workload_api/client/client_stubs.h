// SPDX-License-Identifier: Apache-2.0
// Internal to the client library: the gRPC stubs behind Client and the helpers its calls share.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "common/result.h"
#include "health.grpc.pb.h"
#include "workload.grpc.pb.h"
#include "workload_api/client/client.h"

namespace lanyard::workload_api {

/// The channel and its stubs; stubs are thread-safe.
struct Client::Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<SpiffeWorkloadAPI::Stub> workload;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

/// The security header every SpiffeWorkloadAPI call carries (WAPI-4).
inline constexpr const char* kSecurityHeader = "workload.spiffe.io";

/// Adds the security header (WAPI-4) to a context for a SpiffeWorkloadAPI call.
void addSecurityHeader(grpc::ClientContext& context);

/// An Error for a failed call: the gRPC code as Code, and the message
/// "<context>: <code in words>: <server message>" ("fetching X.509-SVIDs from unix:///x.sock:
/// permission denied: no identity issued"). The server's text has control bytes replaced.
Error callError(const grpc::Status& status, std::string_view context);

}  // namespace lanyard::workload_api
