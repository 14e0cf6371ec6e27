// SPDX-License-Identifier: Apache-2.0
// Internal to the client library: Workload API messages into svid/ types (WAPI-3, WAPI-8 …
// WAPI-14). Not installed; tests include it to check the conversions directly.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <nlohmann/json.hpp>

#include "common/result.h"
#include "svid/bundle.h"
#include "workload.pb.h"
#include "workload_api/client/client.h"
#include "workload_api/client/x509_context.h"

namespace lanyard::workload_api::proto {

/// An X509SVIDResponse as go-spiffe reads it: each SVID parsed with svid::parseX509Svid (and
/// its `spiffe_id` equal to the leaf's ID), later duplicates of a non-empty hint dropped, every
/// SVID's `bundle` under its trust domain, then `federated_bundles` (keys "spiffe://<td>").
/// InvalidArgument naming the field on anything malformed, or when there is no SVID (WAPI-8).
Result<X509Context> toX509Context(const X509SVIDResponse& response);

/// X509BundlesResponse.bundles as a BundleMap. InvalidArgument naming the bad entry.
Result<svid::BundleMap> toX509Bundles(const X509BundlesResponse& response);

/// JWTBundlesResponse.bundles (JWKS JSON) as a BundleMap. InvalidArgument naming the entry.
Result<svid::BundleMap> toJwtBundles(const JWTBundlesResponse& response);

/// JWTSVIDResponse.svids, each token parsed with svid::parseJwtSvidInsecure against
/// `audiences` and checked against its `spiffe_id`. InvalidArgument when there are none.
Result<std::vector<JwtIdentity>> toJwtIdentities(const JWTSVIDResponse& response,
                                                 const std::vector<std::string>& audiences);

/// google.protobuf.Struct as JSON (Appendix A): integral numbers within ±2^53 become integers.
nlohmann::json toJson(const google::protobuf::Struct& value);

}  // namespace lanyard::workload_api::proto
