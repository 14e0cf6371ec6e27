// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for SPIFFE ID, trust-domain, path and base64 parsing, checking round trips.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "svid/encoding.h"
#include "svid/spiffe_id.h"

namespace {

using lanyard::svid::SpiffeId;
using lanyard::svid::TrustDomain;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

bool isTdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

// A valid trust domain (ID-2, ID-5) that reparses to itself in both forms (ID-8, ID-9).
void checkTrustDomain(const TrustDomain& td) {
  const std::string& n = td.name();
  check(!n.empty() && n.size() <= lanyard::svid::kMaxTrustDomainLength);
  for (char c : n) {
    check(isTdChar(c));
  }
  auto bare = TrustDomain::parse(n);
  check(bare.has_value() && *bare == td);
  auto fromId = TrustDomain::parse(td.idString());
  check(fromId.has_value() && *fromId == td);
  // ID-7: configuration refuses exactly the names with an empty label.
  bool emptyLabel = n.front() == '.' || n.back() == '.' || n.find("..") != std::string::npos;
  check(TrustDomain::parseForConfig(n).has_value() == !emptyLabel);
}

void fuzzSpiffeId(std::string_view s) {
  auto id = SpiffeId::parse(s);
  if (!id.has_value()) {
    return;
  }
  // Never normalized (ID-6): the string is exactly the input and reparses to an equal ID.
  check(id->str() == s);
  check(s.size() <= lanyard::svid::kMaxSpiffeIdLength);
  check(id->isRoot() == id->path().empty());
  auto again = SpiffeId::parse(id->str());
  check(again.has_value() && *again == *id);
  check(lanyard::svid::validatePath(id->path()).has_value());
  auto built = SpiffeId::fromPath(id->trustDomain(), id->path());
  check(built.has_value() && *built == *id);
  checkTrustDomain(id->trustDomain());
  // ID-9: the same string, read as a trust-domain key, reduces to the ID's trust domain.
  auto td = TrustDomain::parse(s);
  check(td.has_value() && *td == id->trustDomain());
}

void fuzzTrustDomain(std::string_view s) {
  auto td = TrustDomain::parse(s);
  auto config = TrustDomain::parseForConfig(s);
  check(td.has_value() || !config.has_value());
  if (!td.has_value()) {
    return;
  }
  checkTrustDomain(*td);
  if (config.has_value()) {
    check(*config == *td);
  }
  if (s.find(":/") == std::string_view::npos) {
    check(td->name() == s);
  } else {
    check(SpiffeId::parse(s).has_value());
  }
}

void fuzzPath(std::string_view s) {
  bool valid = lanyard::svid::validatePath(s).has_value();
  auto td = TrustDomain::parse("x");
  check(td.has_value());
  auto built = SpiffeId::fromPath(*td, s);
  // fromPath adds only the length rule (ID-5) to validatePath.
  bool fits = std::string_view("spiffe://x").size() + s.size() <= lanyard::svid::kMaxSpiffeIdLength;
  check(built.has_value() == (valid && fits));
  if (built.has_value()) {
    check(built->path() == s);
    auto parsed = SpiffeId::parse(built->str());
    check(parsed.has_value() && *parsed == *built);
  }
}

void fuzzBase64(std::string_view s) {
  // Strict decoders accept only canonical text, so decode then encode gives the input back.
  auto std64 = lanyard::svid::base64Decode(s);
  if (std64.has_value()) {
    check(lanyard::svid::base64Encode(*std64) == s);
  }
  auto url = lanyard::svid::base64UrlDecode(s);
  if (url.has_value()) {
    check(lanyard::svid::base64UrlEncode(*url) == s);
  }
  // Any bytes survive encode then decode.
  auto back = lanyard::svid::base64Decode(lanyard::svid::base64Encode(s));
  check(back.has_value() && *back == s);
  auto urlBack = lanyard::svid::base64UrlDecode(lanyard::svid::base64UrlEncode(s));
  check(urlBack.has_value() && *urlBack == s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  fuzzSpiffeId(s);
  fuzzTrustDomain(s);
  fuzzPath(s);
  fuzzBase64(s);
  return 0;
}
