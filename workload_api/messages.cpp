// SPDX-License-Identifier: Apache-2.0
// Workload API messages: building responses from views, checking requests, JSON → Struct.
#include "workload_api/messages.h"

#include <map>
#include <set>
#include <utility>

namespace lanyard::workload_api {
namespace {

// What a caller's X.509 stream last showed: the SVID records (by identity: a renewal is a new
// record) and the bundles' bytes.
struct X509SvidKey {
  std::vector<const X509SvidRecord*> svids;
  std::string bundleDer;
  std::map<std::string, std::string> federated;
  bool operator==(const X509SvidKey&) const = default;
};

class X509SvidProducer final : public StreamProducer<X509SVIDResponse> {
 public:
  Result<std::optional<X509SVIDResponse>> next(IdentitySource& source,
                                               const Selectors& selectors) override {
    LANYARD_TRY(X509View view, source.x509View(selectors));
    X509SvidKey key;
    for (const auto& r : view.svids) {
      key.svids.push_back(r.get());
    }
    key.bundleDer = view.bundle ? view.bundle->x509Der() : std::string();
    for (const auto& [td, bundle] : view.federated) {
      key.federated.emplace(td.idString(), bundle->x509Der());
    }
    if (last_ && *last_ == key) {
      return std::optional<X509SVIDResponse>();
    }
    X509SVIDResponse out;
    fillX509SvidResponse(view, out);
    last_ = std::move(key);
    held_ = std::move(view.svids);  // keeps the records alive, so the pointers stay unique
    return std::optional<X509SVIDResponse>(std::move(out));
  }

 private:
  std::optional<X509SvidKey> last_;
  std::vector<std::shared_ptr<const X509SvidRecord>> held_;
};

// A bundles stream: the map "spiffe://td" → encoding, skipped when unchanged (WAPI-6).
template <class Response>
class BundlesProducer final : public StreamProducer<Response> {
 public:
  using Encode = Result<std::string> (*)(const svid::Bundle&);
  explicit BundlesProducer(Encode encode) : encode_(encode) {}

  Result<std::optional<Response>> next(IdentitySource& source,
                                       const Selectors& selectors) override {
    LANYARD_TRY(svid::BundleMap bundles, source.bundles(selectors));
    std::map<std::string, std::string> encoded;
    for (const auto& [td, bundle] : bundles) {
      LANYARD_TRY(std::string bytes, encode_(*bundle));
      encoded.emplace(td.idString(), std::move(bytes));
    }
    if (last_ && *last_ == encoded) {
      return std::optional<Response>();
    }
    Response out;
    for (const auto& [td, bytes] : encoded) {
      (*out.mutable_bundles())[td] = bytes;
    }
    last_ = std::move(encoded);
    return std::optional<Response>(std::move(out));
  }

 private:
  Encode encode_;
  std::optional<std::map<std::string, std::string>> last_;
};

Result<std::string> x509Der(const svid::Bundle& b) { return b.x509Der(); }
Result<std::string> jwks(const svid::Bundle& b) { return b.jwtBundleJson(); }

// WAPI-9: a non-empty hint appears once per response; later duplicates are dropped.
bool firstWithHint(std::set<std::string>& seen, const std::string& hint) {
  return hint.empty() || seen.insert(hint).second;
}

}  // namespace

std::unique_ptr<StreamProducer<X509SVIDResponse>> makeX509SvidProducer() {
  return std::make_unique<X509SvidProducer>();
}

std::unique_ptr<StreamProducer<X509BundlesResponse>> makeX509BundlesProducer() {
  return std::make_unique<BundlesProducer<X509BundlesResponse>>(&x509Der);
}

std::unique_ptr<StreamProducer<JWTBundlesResponse>> makeJwtBundlesProducer() {
  return std::make_unique<BundlesProducer<JWTBundlesResponse>>(&jwks);
}

Result<JwtSvidRequest> parseJwtSvidRequest(const JWTSVIDRequest& request) {
  JwtSvidRequest out;
  for (const auto& a : request.audience()) {
    if (!a.empty()) {
      out.audience.push_back(a);
    }
  }
  if (out.audience.empty()) {
    return fail(Code::InvalidArgument, "audience must be specified");
  }
  if (!request.spiffe_id().empty()) {
    auto id = svid::SpiffeId::parse(request.spiffe_id());
    if (!id) {
      return fail(Code::InvalidArgument, id.error().message);
    }
    out.only = std::move(*id);
  }
  return out;
}

void fillX509SvidResponse(const X509View& view, X509SVIDResponse& out) {
  const std::string bundleDer = view.bundle ? view.bundle->x509Der() : std::string();
  std::set<std::string> hints;
  for (const auto& r : view.svids) {
    if (!firstWithHint(hints, r->hint)) {
      continue;
    }
    X509SVID* s = out.add_svids();
    s->set_spiffe_id(r->id.str());
    s->set_x509_svid(r->chainDer);
    s->set_x509_svid_key(r->keyDer.str());
    s->set_bundle(bundleDer);
    s->set_hint(r->hint);
  }
  for (const auto& [td, bundle] : view.federated) {
    (*out.mutable_federated_bundles())[td.idString()] = bundle->x509Der();
  }
}

void fillJwtSvidResponse(const std::vector<JwtSvidRecord>& svids, JWTSVIDResponse& out) {
  std::set<std::string> hints;
  for (const auto& r : svids) {
    if (!firstWithHint(hints, r.hint)) {
      continue;
    }
    JWTSVID* s = out.add_svids();
    s->set_spiffe_id(r.spiffeId);
    s->set_svid(r.token);
    s->set_hint(r.hint);
  }
}

void jsonToValue(const nlohmann::json& json, google::protobuf::Value& out) {
  switch (json.type()) {
    case nlohmann::json::value_t::null:
      out.set_null_value(google::protobuf::NULL_VALUE);
      break;
    case nlohmann::json::value_t::boolean:
      out.set_bool_value(json.get<bool>());
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      out.set_number_value(json.get<double>());
      break;
    case nlohmann::json::value_t::string:
      out.set_string_value(json.get<std::string>());
      break;
    case nlohmann::json::value_t::array:
      for (const auto& item : json) {
        jsonToValue(item, *out.mutable_list_value()->add_values());
      }
      out.mutable_list_value();  // an empty array is still a list
      break;
    case nlohmann::json::value_t::object: {
      auto* fields = out.mutable_struct_value()->mutable_fields();
      for (const auto& [k, v] : json.items()) {
        jsonToValue(v, (*fields)[k]);
      }
      break;
    }
    default:  // binary and discarded never come out of a parsed token
      out.set_null_value(google::protobuf::NULL_VALUE);
      break;
  }
}

void fillValidateResponse(const svid::JwtSvid& jwt, ValidateJWTSVIDResponse& out) {
  out.set_spiffe_id(jwt.subject.str());
  auto* fields = out.mutable_claims()->mutable_fields();
  for (const auto& [k, v] : jwt.claims.items()) {
    if (k == "aud" && v.is_string()) {
      (*fields)[k].mutable_list_value()->add_values()->set_string_value(v.get<std::string>());
      continue;
    }
    jsonToValue(v, (*fields)[k]);
  }
}

}  // namespace lanyard::workload_api
