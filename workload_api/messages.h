// SPDX-License-Identifier: Apache-2.0
// The Workload API's messages built from views and records, and its requests checked
// (WAPI-3, WAPI-8 … WAPI-14).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workload.pb.h"
#include "workload_api/push_stream.h"

namespace lanyard::workload_api {

/// The producers of the three streams. Each skips a message identical to the one it last
/// produced (WAPI-6) and ends the stream with PERMISSION_DENIED when the caller's
/// identities are gone (WAPI-5).
std::unique_ptr<StreamProducer<X509SVIDResponse>> makeX509SvidProducer();
std::unique_ptr<StreamProducer<X509BundlesResponse>> makeX509BundlesProducer();
std::unique_ptr<StreamProducer<JWTBundlesResponse>> makeJwtBundlesProducer();

/// A checked FetchJWTSVID request.
struct JwtSvidRequest {
  /// Without empty strings; never empty.
  std::vector<std::string> audience;
  std::optional<svid::SpiffeId> only;
};

/// WAPI-5: audience required (a list of only empty strings counts as none), spiffe_id, when
/// set, a valid SPIFFE ID. InvalidArgument otherwise.
Result<JwtSvidRequest> parseJwtSvidRequest(const JWTSVIDRequest& request);

/// Fills the X.509-SVID message from a view (WAPI-8 … WAPI-11); a later SVID whose non-empty
/// hint repeats an earlier one is left out, as SPIRE does (WAPI-9).
void fillX509SvidResponse(const X509View& view, X509SVIDResponse& out);
/// Fills the FetchJWTSVID answer (WAPI-13), leaving out later duplicates of a hint (WAPI-9).
void fillJwtSvidResponse(const std::vector<JwtSvidRecord>& svids, JWTSVIDResponse& out);
/// Fills the ValidateJWTSVID answer: spiffe_id = sub, claims = the whole payload, numbers as
/// doubles and a string `aud` as a one-element list, as SPIRE does (WAPI-14).
void fillValidateResponse(const svid::JwtSvid& jwt, ValidateJWTSVIDResponse& out);
/// JSON to google.protobuf.Struct values (Appendix A): numbers become doubles.
void jsonToValue(const nlohmann::json& json, google::protobuf::Value& out);

}  // namespace lanyard::workload_api
