// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what the client library reads from an agent: Workload API responses
// (X.509-SVIDs with keys, bundles, JWT-SVIDs, claims) as protobuf bytes. Never crashes; what
// converts keeps the invariants go-spiffe relies on (WAPI-8, WAPI-10).
#include <cstddef>
#include <cstdint>
#include <string>

#include "workload.pb.h"
#include "workload_api/client/proto_convert.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  using namespace lanyard::workload_api;
  // The first byte picks the message, the rest is its encoding.
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      X509SVIDResponse r;
      if (r.ParseFromString(bytes)) {
        auto ctx = proto::toX509Context(r);
        if (ctx) {
          check(!ctx->svids.empty());  // WAPI-8
          for (const auto& s : ctx->svids) {
            check(ctx->bundles.count(s.svid.id.trustDomain()) == 1);
          }
        }
      }
      break;
    }
    case 1: {
      X509BundlesResponse r;
      if (r.ParseFromString(bytes)) {
        (void)proto::toX509Bundles(r);
      }
      break;
    }
    case 2: {
      JWTBundlesResponse r;
      if (r.ParseFromString(bytes)) {
        (void)proto::toJwtBundles(r);
      }
      break;
    }
    default: {
      JWTSVIDResponse r;
      if (r.ParseFromString(bytes)) {
        (void)proto::toJwtIdentities(r, {"aud"});
      }
      ValidateJWTSVIDResponse v;
      if (v.ParseFromString(bytes)) {
        (void)proto::toJson(v.claims());
      }
      break;
    }
  }
  return 0;
}
