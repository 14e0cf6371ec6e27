// SPDX-License-Identifier: Apache-2.0
// Tests for workload_api/messages.cpp: requests checked (WAPI-5), responses built (WAPI-8 …
// WAPI-14), JSON claims as google.protobuf.Struct (Appendix A).
#include "workload_api/messages.h"

#include <catch2/catch.hpp>

namespace lanyard::workload_api {
namespace {

std::shared_ptr<const X509SvidRecord> record(const std::string& id, const std::string& hint) {
  return std::make_shared<X509SvidRecord>(X509SvidRecord{
      .id = *svid::SpiffeId::parse(id),
      .chainDer = "chain-" + id,
      .keyDer = svid::SecretBytes("key"),
      .hint = hint,
      .notBefore = {},
      .notAfter = {},
  });
}

TEST_CASE("FetchJWTSVID requests need an audience and a valid spiffe_id (WAPI-5)",
          "[workload_api][messages]") {
  JWTSVIDRequest req;
  CHECK(parseJwtSvidRequest(req).error().code == Code::InvalidArgument);
  req.add_audience("");
  req.add_audience("");
  CHECK(parseJwtSvidRequest(req).error().message == "audience must be specified");
  req.add_audience("svc");
  auto ok = parseJwtSvidRequest(req);
  REQUIRE(ok);
  CHECK(ok->audience == std::vector<std::string>{"svc"});  // WAPI-13: empty strings dropped
  CHECK_FALSE(ok->only);
  req.set_spiffe_id("spiffe://example.org/x/");
  CHECK(parseJwtSvidRequest(req).error().code == Code::InvalidArgument);
  req.set_spiffe_id("spiffe://example.org/x");
  CHECK(parseJwtSvidRequest(req)->only->str() == "spiffe://example.org/x");
}

TEST_CASE("X.509 responses carry every field and unique hints (WAPI-8, WAPI-9, WAPI-10)",
          "[workload_api][messages]") {
  X509View view;
  view.svids = {record("spiffe://example.org/a", "web"), record("spiffe://example.org/b", "web"),
                record("spiffe://example.org/c", "")};
  view.bundle = std::make_shared<svid::Bundle>(*svid::TrustDomain::parse("example.org"));
  X509SVIDResponse out;
  fillX509SvidResponse(view, out);
  REQUIRE(out.svids_size() == 2);  // the second "web" is dropped, as SPIRE does
  CHECK(out.svids(0).spiffe_id() == "spiffe://example.org/a");
  CHECK(out.svids(0).x509_svid() == "chain-spiffe://example.org/a");
  CHECK(out.svids(0).x509_svid_key() == "key");
  CHECK(out.svids(0).hint() == "web");
  CHECK(out.svids(1).spiffe_id() == "spiffe://example.org/c");
  CHECK(out.federated_bundles().empty());  // WAPI-11: foreign domains only
}

TEST_CASE("JWT responses drop later duplicates of a hint (WAPI-9)", "[workload_api][messages]") {
  JWTSVIDResponse out;
  fillJwtSvidResponse({{"spiffe://example.org/a", "t1", "h"},
                       {"spiffe://example.org/b", "t2", "h"},
                       {"spiffe://example.org/c", "t3", ""}},
                      out);
  REQUIRE(out.svids_size() == 2);
  CHECK(out.svids(0).svid() == "t1");
  CHECK(out.svids(1).spiffe_id() == "spiffe://example.org/c");
}

TEST_CASE("claims become a Struct with numbers as doubles and aud as a list (WAPI-14)",
          "[workload_api][messages]") {
  svid::JwtSvid jwt{
      .token = "",
      .subject = *svid::SpiffeId::parse("spiffe://example.org/w"),
      .audience = {"a"},
      .expiry = {},
      .issuedAt = std::nullopt,
      .kid = "k",
      .claims = nlohmann::json::parse(
          R"({"sub":"spiffe://example.org/w","aud":"a","exp":1700000000,"x":{"y":[1,true,null]},"f":1.5})"),
  };
  ValidateJWTSVIDResponse out;
  fillValidateResponse(jwt, out);
  CHECK(out.spiffe_id() == "spiffe://example.org/w");
  const auto& f = out.claims().fields();
  REQUIRE(f.at("aud").has_list_value());
  CHECK(f.at("aud").list_value().values(0).string_value() == "a");
  CHECK(f.at("exp").number_value() == 1700000000.0);
  CHECK(f.at("f").number_value() == 1.5);
  const auto& y = f.at("x").struct_value().fields().at("y").list_value();
  REQUIRE(y.values_size() == 3);
  CHECK(y.values(0).number_value() == 1.0);
  CHECK(y.values(1).bool_value());
  CHECK(y.values(2).has_null_value());
}

}  // namespace
}  // namespace lanyard::workload_api
