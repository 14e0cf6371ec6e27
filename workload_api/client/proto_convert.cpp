// SPDX-License-Identifier: Apache-2.0
// Converts Workload API responses into svid/ types the way go-spiffe's client reads them.
#include "workload_api/client/proto_convert.h"

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "common/text.h"
#include "svid/jwt_svid.h"
#include "svid/spiffe_id.h"
#include "svid/x509_svid.h"

namespace lanyard::workload_api::proto {
namespace {

std::string field(const char* name, int index) {
  return std::string(name) + "[" + std::to_string(index) + "]";
}

std::string mapEntry(const char* name, const std::string& key) {
  return std::string(name) + "[" + text::quote(key) + "]";
}

using Parser = Result<svid::Bundle> (*)(const svid::TrustDomain&, std::string_view);

// One map entry "spiffe://<td>" → bundle bytes, parsed with `parse`.
Result<void> addBundle(svid::BundleMap& map, const std::string& where, const std::string& key,
                       const std::string& value, Parser parse) {
  auto td = svid::TrustDomain::parse(key);
  if (!td) {
    return fail(td.error().wrap(where));
  }
  auto bundle = parse(*td, value);
  if (!bundle) {
    return fail(bundle.error().wrap(where));
  }
  map[*td] = std::make_shared<const svid::Bundle>(std::move(*bundle));
  return {};
}

Result<svid::BundleMap> toBundleMap(const google::protobuf::Map<std::string, std::string>& entries,
                                    const char* fieldName, Parser parse) {
  svid::BundleMap map;
  for (const auto& [key, value] : entries) {
    LANYARD_TRY_VOID(addBundle(map, mapEntry(fieldName, key), key, value, parse));
  }
  return map;
}

Result<X509Identity> toX509Identity(const X509SVID& in, int index) {
  std::string where = field("svids", index);
  auto parsed = svid::parseX509Svid(in.x509_svid(), in.x509_svid_key());
  if (!parsed) {
    return fail(parsed.error().wrap(where));
  }
  // WAPI-10: spiffe_id equals the leaf's URI SAN.
  if (parsed->id.str() != in.spiffe_id()) {
    return fail(Code::InvalidArgument, where + ": spiffe_id " + text::quote(in.spiffe_id()) +
                                           " differs from the certificate's " +
                                           text::quote(parsed->id.str()) + " (WAPI-10)");
  }
  return X509Identity{std::move(*parsed), in.hint()};
}

}  // namespace

Result<X509Context> toX509Context(const X509SVIDResponse& response) {
  if (response.svids().empty()) {
    return fail(Code::InvalidArgument, "the response holds no X.509-SVID (WAPI-8)");
  }
  X509Context context;
  std::set<std::string> hints;
  for (int i = 0; i < response.svids_size(); ++i) {
    const X509SVID& in = response.svids(i);
    LANYARD_TRY(X509Identity identity, toX509Identity(in, i));
    // WAPI-9: the first SVID with a given hint wins, as in go-spiffe.
    if (!in.hint().empty() && !hints.insert(in.hint()).second) {
      continue;
    }
    LANYARD_TRY_VOID(addBundle(context.bundles, field("svids", i) + ".bundle",
                               identity.svid.id.str(), in.bundle(), &svid::Bundle::parseX509Der));
    context.svids.push_back(std::move(identity));
  }
  for (const auto& [key, value] : response.federated_bundles()) {
    LANYARD_TRY_VOID(addBundle(context.bundles, mapEntry("federated_bundles", key), key, value,
                               &svid::Bundle::parseX509Der));
  }
  return context;
}

Result<svid::BundleMap> toX509Bundles(const X509BundlesResponse& response) {
  return toBundleMap(response.bundles(), "bundles", &svid::Bundle::parseX509Der);
}

Result<svid::BundleMap> toJwtBundles(const JWTBundlesResponse& response) {
  return toBundleMap(response.bundles(), "bundles", &svid::Bundle::parseJwtBundleJson);
}

Result<std::vector<JwtIdentity>> toJwtIdentities(const JWTSVIDResponse& response,
                                                 const std::vector<std::string>& audiences) {
  if (response.svids().empty()) {
    return fail(Code::InvalidArgument, "the response holds no JWT-SVID (WAPI-13)");
  }
  std::vector<JwtIdentity> out;
  for (int i = 0; i < response.svids_size(); ++i) {
    const JWTSVID& in = response.svids(i);
    auto parsed = svid::parseJwtSvidInsecure(in.svid(), audiences);
    if (!parsed) {
      return fail(parsed.error().wrap(field("svids", i)));
    }
    if (parsed->subject.str() != in.spiffe_id()) {
      return fail(Code::InvalidArgument, field("svids", i) + ": spiffe_id " +
                                             text::quote(in.spiffe_id()) +
                                             " differs from the token's sub " +
                                             text::quote(parsed->subject.str()) + " (WAPI-13)");
    }
    out.push_back(JwtIdentity{std::move(*parsed), in.hint()});
  }
  return out;
}

namespace {

nlohmann::json valueToJson(const google::protobuf::Value& v) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kNumberValue: {
      double d = v.number_value();
      // Claims such as exp and iat arrive as doubles (Appendix A); print them as integers.
      constexpr double kExact = 9007199254740992.0;  // 2^53
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= kExact) {
        return static_cast<int64_t>(d);
      }
      return d;
    }
    case google::protobuf::Value::kStringValue:
      return v.string_value();
    case google::protobuf::Value::kBoolValue:
      return v.bool_value();
    case google::protobuf::Value::kStructValue:
      return toJson(v.struct_value());
    case google::protobuf::Value::kListValue: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& item : v.list_value().values()) {
        list.push_back(valueToJson(item));
      }
      return list;
    }
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

}  // namespace

nlohmann::json toJson(const google::protobuf::Struct& value) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, v] : value.fields()) {
    out[key] = valueToJson(v);
  }
  return out;
}

}  // namespace lanyard::workload_api::proto
