// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for bundle parsing (BUNDLE-1 … BUNDLE-10): accepted input must re-encode and
// re-parse to the same content.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "svid/bundle.h"

namespace {

using lanyard::svid::Bundle;
using lanyard::svid::TrustDomain;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

const TrustDomain& domain() {
  static const TrustDomain td = TrustDomain::parse("example.org").value();
  return td;
}

void fuzzSpiffeJson(std::string_view s) {
  auto b = Bundle::parseSpiffeJson(domain(), s);
  if (!b.has_value()) {
    check(b.error().code == lanyard::Code::InvalidArgument);
    return;
  }
  auto text = b->toSpiffeJson();
  check(text.has_value());
  auto again = Bundle::parseSpiffeJson(domain(), *text);
  check(again.has_value() && again->sameContent(*b));
  // The Workload API forms carry the same authorities (BUNDLE-10).
  auto der = Bundle::parseX509Der(domain(), b->x509Der());
  check(der.has_value() && der->x509Authorities().size() == b->x509Authorities().size());
  auto jwt = b->jwtBundleJson();
  check(jwt.has_value());
  auto jwtAgain = Bundle::parseJwtBundleJson(domain(), *jwt);
  check(jwtAgain.has_value() && jwtAgain->jwtAuthorities().size() == b->jwtAuthorities().size());
}

void fuzzJwtBundle(std::string_view s) {
  auto b = Bundle::parseJwtBundleJson(domain(), s);
  if (!b.has_value()) {
    check(b.error().code == lanyard::Code::InvalidArgument);
    return;
  }
  check(b->x509Authorities().empty());
  auto text = b->jwtBundleJson();
  check(text.has_value());
  auto again = Bundle::parseJwtBundleJson(domain(), *text);
  check(again.has_value() && again->sameContent(*b));
}

void fuzzX509Der(std::string_view s) {
  auto b = Bundle::parseX509Der(domain(), s);
  if (!b.has_value()) {
    check(b.error().code == lanyard::Code::InvalidArgument);
    return;
  }
  check(s.empty() == b->x509Authorities().empty());
  auto again = Bundle::parseX509Der(domain(), b->x509Der());
  check(again.has_value() && again->sameContent(*b));
  if (!b->x509Authorities().empty()) {
    auto pem = Bundle::parseX509Pem(domain(), b->x509Pem());
    check(pem.has_value() && pem->sameContent(*b));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  fuzzSpiffeJson(s);
  fuzzJwtBundle(s);
  fuzzX509Der(s);
  return 0;
}
