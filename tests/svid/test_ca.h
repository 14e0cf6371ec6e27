// SPDX-License-Identifier: Apache-2.0
// Test fixture: a throwaway self-signed CA for a trust domain, its issuer and its bundle.
#pragma once

#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"
#include "svid/bundle.h"
#include "svid/ca_certificate.h"
#include "svid/key.h"
#include "svid/x509_svid.h"

namespace lanyard::testing {

inline svid::TrustDomain td(const std::string& name) { return *svid::TrustDomain::parse(name); }
inline svid::SpiffeId sid(const std::string& s) { return *svid::SpiffeId::parse(s); }

struct TestCa {
  ossl::UniquePtr<X509> cert;
  ossl::UniquePtr<EVP_PKEY> key;
  std::unique_ptr<svid::X509SvidIssuer> issuer;
  svid::BundleMap bundles;
};

/// A self-signed CA valid for [now - 1 h, now + ttl) in trust domain `name`.
inline TestCa makeTestCa(const std::string& name, SysTime now, Seconds ttl = Seconds(24 * 3600),
                         svid::KeyType type = svid::KeyType::EcP256) {
  TestCa ca;
  ca.key = *svid::generateKey(type);
  svid::CaCertParams p{td(name), now - Seconds(3600), now + ttl, "test ca", -1};
  auto cert = svid::makeCaCertificate(p, ca.key.get(), nullptr, ca.key.get());
  REQUIRE(cert);
  ca.cert = std::move(*cert);
  auto issuer =
      svid::X509SvidIssuer::create(ossl::upRef(ca.cert.get()), ossl::upRef(ca.key.get()), {});
  REQUIRE(issuer);
  ca.issuer = std::move(*issuer);
  auto bundle = std::make_shared<svid::Bundle>(td(name));
  REQUIRE(bundle->addX509Authority(ca.cert.get()));
  ca.bundles[td(name)] = bundle;
  return ca;
}

/// The leaf certificate of an SVID, parsed from its DER chain.
inline ossl::UniquePtr<X509> leafOf(const svid::X509Svid& s) {
  auto certs = s.certificates();
  REQUIRE(certs);
  REQUIRE(!certs->empty());
  return std::move((*certs)[0]);
}

/// How many certificates the SVID's chain holds.
inline size_t chainLength(const svid::X509Svid& s) {
  auto certs = s.certificates();
  REQUIRE(certs);
  return certs->size();
}

}  // namespace lanyard::testing
