// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for JWT-SVID validation and minting (JWT-1 … JWT-11), checking invariants.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ec.h>

#include "svid/bundle.h"
#include "svid/encoding.h"
#include "svid/jwt_svid.h"

namespace {

using lanyard::Seconds;
using lanyard::SysTime;
using lanyard::svid::base64UrlEncode;
using lanyard::svid::BundleMap;
using lanyard::svid::JwtSigner;
using lanyard::svid::JwtSvid;
using lanyard::svid::SpiffeId;
using lanyard::svid::TrustDomain;

const SysTime kNow = lanyard::fromUnixSeconds(1'772'323'200);
constexpr std::string_view kAud = "spiffe://example.org/backend";

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

/// One P-256 signer with kid "k" and a bundle map trusting it for example.org, built once.
struct World {
  JwtSigner signer;
  BundleMap bundles;
  std::string headerB64;
};

const World& world() {
  static const World w = [] {
    lanyard::ossl::UniquePtr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    auto signer = JwtSigner::create(std::move(key), "k");
    check(signer.has_value());
    auto td = TrustDomain::parse("example.org");
    check(td.has_value());
    auto bundle = std::make_shared<lanyard::svid::Bundle>(*td);
    check(bundle->addJwtAuthority("k", signer->key()).has_value());
    BundleMap map;
    map.emplace(*td, std::move(bundle));
    std::string header = base64UrlEncode(R"({"alg":"ES256","kid":"k","typ":"JWT"})");
    return World{std::move(signer).value(), std::move(map), std::move(header)};
  }();
  return w;
}

/// What every accepted token must satisfy, whatever the input (JWT-5, JWT-6, JWT-7, JWT-8).
void checkAccepted(const JwtSvid& svid, std::string_view token) {
  check(svid.token == token);
  check(svid.subject.trustDomain().name() == "example.org");
  check(svid.kid == "k");
  bool hasAud = false;
  for (const auto& a : svid.audience) {
    hasAud = hasAud || a == kAud;
  }
  check(hasAud);
  check(svid.expiry + lanyard::svid::kJwtLeeway >= kNow);
  check(!svid.issuedAt || *svid.issuedAt <= kNow + lanyard::svid::kJwtLeeway);
  check(svid.claims.is_object());
  auto insecure = lanyard::svid::parseJwtSvidInsecure(token, {std::string(kAud)});
  check(insecure.has_value() && insecure->subject == svid.subject);
}

void validateToken(std::string_view token) {
  auto svid = lanyard::svid::validateJwtSvid(token, world().bundles, kAud, kNow);
  if (svid.has_value()) {
    checkAccepted(*svid, token);
  } else {
    check(svid.error().code == lanyard::Code::InvalidArgument);
    // Errors never echo the token (STYLE.md §8). Only token-shaped input is checked: short or
    // dot-less input can match the fixed message text by accident (the fuzzer found "...ing
    // JWT-SVID: token is not a compact JWS..." as an input).
    bool tokenShaped = token.size() >= 16 && std::count(token.begin(), token.end(), '.') == 2;
    check(!tokenShaped || svid.error().message.find(token) == std::string::npos);
  }
  auto insecure = lanyard::svid::parseJwtSvidInsecure(token, {std::string(kAud), "other"});
  check(insecure.has_value() || insecure.error().code == lanyard::Code::InvalidArgument);
}

/// Signs header.payload with the world's key (EVP, DER to R‖S): the result has a valid
/// signature, so everything after the signature check is exercised.
std::string signedToken(const std::string& headerB64, std::string_view payload) {
  std::string input = headerB64 + "." + base64UrlEncode(payload);
  lanyard::ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  unsigned char der[80];
  size_t len = sizeof(der);
  check(EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, world().signer.key(),
                              nullptr) == 1);
  check(EVP_DigestSign(ctx.get(), der, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1);
  const unsigned char* p = der;
  lanyard::ossl::UniquePtr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  check(sig != nullptr);
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  check(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, 32) == 32);
  check(BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + 32, 32) == 32);
  return input + "." + base64UrlEncode(raw);
}

/// Mints with the input as audience: the token must validate for exactly that audience.
void mintWithAudience(std::string_view aud) {
  auto sub = SpiffeId::parse("spiffe://example.org/w");
  check(sub.has_value());
  auto token =
      lanyard::svid::mintJwtSvid(world().signer, *sub, {std::string(aud)}, kNow, Seconds(300));
  if (!token.has_value()) {
    return;  // empty or not UTF-8
  }
  auto svid = lanyard::svid::validateJwtSvid(*token, world().bundles, aud, kNow);
  check(svid.has_value() && svid->audience.size() == 1 && svid->audience[0] == aud);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:  // a whole token
      validateToken(rest);
      break;
    case 1:  // a payload under our header, validly signed
      validateToken(signedToken(world().headerB64, rest));
      break;
    case 2:  // a header over valid claims, validly signed
      validateToken(
          signedToken(base64UrlEncode(rest),
                      R"({"sub":"spiffe://example.org/w","aud":["spiffe://example.org/backend"],)"
                      R"("exp":1772323500,"iat":1772323200})"));
      break;
    default:  // an audience to mint with
      mintWithAudience(rest);
      break;
  }
  return 0;
}
