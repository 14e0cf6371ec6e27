// SPDX-License-Identifier: Apache-2.0
// Tests for svid/jwt_svid.cpp: minting (JWT-1 … JWT-10) and validation per JWT-11.
#include "svid/jwt_svid.h"

#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "svid/encoding.h"

namespace lanyard::svid {
namespace {

using nlohmann::json;

const SysTime kNow = fromUnixSeconds(1'772'323'200);  // 2026-03-01T00:00:00Z
const std::string kAud = "spiffe://example.org/backend";
const std::string kSub = "spiffe://example.org/ns/prod/sa/web";

ossl::UniquePtr<EVP_PKEY> ecKey(const char* curve) {
  return ossl::UniquePtr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

/// Keys shared by every case (RSA generation is slow).
struct Keys {
  ossl::UniquePtr<EVP_PKEY> p256 = ecKey("P-256");
  ossl::UniquePtr<EVP_PKEY> p256b = ecKey("P-256");
  ossl::UniquePtr<EVP_PKEY> p384 = ecKey("P-384");
  ossl::UniquePtr<EVP_PKEY> p521 = ecKey("P-521");
  ossl::UniquePtr<EVP_PKEY> rsa{
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))};
};

const Keys& keys() {
  static const Keys k;
  return k;
}

JwtSigner signerFor(EVP_PKEY* key, std::string kid, bool pss = false) {
  auto s = JwtSigner::create(ossl::upRef(key), std::move(kid), pss);
  REQUIRE(s);
  return std::move(s).value();
}

TrustDomain td(const char* name) { return TrustDomain::parse(name).value(); }
SpiffeId sid(const std::string& id) { return SpiffeId::parse(id).value(); }

/// example.org trusts k256, k384, k521 and krsa; other.org trusts kother (a different key).
BundleMap bundles() {
  auto own = std::make_shared<Bundle>(td("example.org"));
  REQUIRE(own->addJwtAuthority("k256", keys().p256.get()));
  REQUIRE(own->addJwtAuthority("k384", keys().p384.get()));
  REQUIRE(own->addJwtAuthority("k521", keys().p521.get()));
  REQUIRE(own->addJwtAuthority("krsa", keys().rsa.get()));
  auto other = std::make_shared<Bundle>(td("other.org"));
  REQUIRE(other->addJwtAuthority("kother", keys().p256b.get()));
  BundleMap map;
  map.emplace(td("example.org"), std::move(own));
  map.emplace(td("other.org"), std::move(other));
  return map;
}

std::string b64(const json& j) { return base64UrlEncode(j.dump()); }

/// Signs a JWS signing input without jwt_svid.cpp (EVP, then DER → R‖S for ECDSA), so tests can
/// craft tokens with any header and claims.
std::string testSign(EVP_PKEY* key, const std::string& alg, const std::string& input) {
  // The digest follows a JWS alg name; anything else (none, HS256 …) is signed with SHA-256.
  std::string md = "SHA256";
  for (const char* known : {"256", "384", "512"}) {
    if (alg.size() == 5 && alg.substr(2) == known && alg.find_first_of("EPR") == 0) {
      md = std::string("SHA") + known;
    }
  }
  ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestSignInit_ex(ctx.get(), &pctx, md.c_str(), nullptr, nullptr, key, nullptr) == 1);
  if (alg[0] == 'P') {
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
  }
  size_t len = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len,
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  std::string sig(len, '\0');
  REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  sig.resize(len);
  if (!EVP_PKEY_is_a(key, "EC")) {
    return sig;
  }
  int half = (EVP_PKEY_get_bits(key) + 7) / 8;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ossl::UniquePtr<ECDSA_SIG> ec(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  REQUIRE(ec);
  std::string raw(static_cast<size_t>(2 * half), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_r(ec.get()), out, half) == half);
  REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_s(ec.get()), out + half, half) == half);
  return raw;
}

json header(const std::string& kid = "k256", const std::string& alg = "ES256") {
  return json{{"alg", alg}, {"kid", kid}, {"typ", "JWT"}};
}

json claims(int64_t expOffset = 300, int64_t iatOffset = 0) {
  return json{{"sub", kSub},
              {"aud", json::array({kAud})},
              {"exp", unixSeconds(kNow) + expOffset},
              {"iat", unixSeconds(kNow) + iatOffset}};
}

std::string craft(const json& hdr, const json& payload, EVP_PKEY* key = nullptr) {
  std::string input = b64(hdr) + "." + b64(payload);
  auto alg = hdr.find("alg");
  if (key == nullptr) {
    key = keys().p256.get();
  }
  return input + "." +
         base64UrlEncode(testSign(
             key, alg != hdr.end() && alg->is_string() ? alg->get<std::string>() : "ES256", input));
}

std::vector<std::string> segments(const std::string& token) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = token.find('.', start);
    out.push_back(token.substr(start, dot - start));
    if (dot == std::string::npos) {
      return out;
    }
    start = dot + 1;
  }
}

json decodeSegment(const std::string& segment) {
  auto raw = base64UrlDecode(segment);
  REQUIRE(raw);
  return json::parse(*raw);
}

Result<JwtSvid> validate(const std::string& token, std::string_view aud = kAud,
                         SysTime now = kNow) {
  return validateJwtSvid(token, bundles(), aud, now);
}

/// Checks a rejection: InvalidArgument, the prefix, and no part of the token in the text.
std::string rejected(const std::string& token, std::string_view aud = kAud, SysTime now = kNow) {
  auto r = validate(token, aud, now);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::InvalidArgument);
  CHECK_THAT(r.error().message, Catch::StartsWith("validating JWT-SVID: "));
  for (const auto& seg : segments(token)) {
    if (seg.size() >= 12) {
      CHECK(r.error().message.find(seg) == std::string::npos);
    }
  }
  return r.error().message;
}

TEST_CASE(
    "a minted token is a compact JWS with header alg, kid and typ JWT (JWT-1, JWT-3, "
    "JWT-4)",
    "[svid][jwt]") {
  JwtSigner signer = signerFor(keys().p256.get(), "k256");
  auto token = mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(300));
  REQUIRE(token);
  auto parts = segments(*token);
  REQUIRE(parts.size() == 3);
  CHECK(token->find('=') == std::string::npos);
  CHECK(token->find_first_of("+/ ") == std::string::npos);
  CHECK(decodeSegment(parts[0]) == json{{"alg", "ES256"}, {"kid", "k256"}, {"typ", "JWT"}});
}

TEST_CASE("a minted token's claims are sub, aud as a list, exp and iat (JWT-5 … JWT-8)",
          "[svid][jwt]") {
  JwtSigner signer = signerFor(keys().p256.get(), "k256");
  auto token = mintJwtSvid(signer, sid(kSub), {kAud, "second"}, kNow, Seconds(300));
  REQUIRE(token);
  json payload = decodeSegment(segments(*token)[1]);
  CHECK(payload == json{{"sub", kSub},
                        {"aud", json::array({kAud, "second"})},
                        {"exp", 1'772'323'500},
                        {"iat", 1'772'323'200}});
  CHECK(payload["exp"].is_number_integer());
}

TEST_CASE("the key picks alg and every minted token validates (JWT-2, JWT-11)", "[svid][jwt]") {
  struct Case {
    const char* name;
    EVP_PKEY* key;
    const char* kid;
    bool pss;
    JwtAlg alg;
    size_t sigBytes;
  };
  const Keys& k = keys();
  for (const Case& c :
       {Case{"ES256", k.p256.get(), "k256", false, JwtAlg::ES256, 64},
        Case{"ES384", k.p384.get(), "k384", false, JwtAlg::ES384, 96},
        Case{"ES512", k.p521.get(), "k521", false, JwtAlg::ES512, 132},
        Case{"RS256", k.rsa.get(), "krsa", false, JwtAlg::RS256, 256},
        Case{"PS256", k.rsa.get(), "krsa", true, JwtAlg::PS256, 256},
        Case{"ES256 ignores the PSS flag", k.p256.get(), "k256", true, JwtAlg::ES256, 64}}) {
    SECTION(c.name) {
      JwtSigner signer = signerFor(c.key, c.kid, c.pss);
      CHECK(signer.alg() == c.alg);
      CHECK(signer.kid() == c.kid);
      auto token = mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(300));
      REQUIRE(token);
      CHECK(decodeSegment(segments(*token)[0])["alg"] == jwtAlgName(c.alg));
      // JWT-10: ECDSA signatures are raw R‖S, 2 × 32/48/66 bytes.
      CHECK(base64UrlDecode(segments(*token)[2])->size() == c.sigBytes);
      auto svid = validate(*token);
      REQUIRE(svid);
      CHECK(svid->subject == sid(kSub));
      CHECK(svid->audience == std::vector<std::string>{kAud});
      CHECK(svid->kid == c.kid);
      CHECK(svid->alg == c.alg);
      CHECK(svid->expiry == kNow + Seconds(300));
      REQUIRE(svid->issuedAt);
      CHECK(*svid->issuedAt == kNow);
      CHECK(svid->token == *token);
      CHECK(svid->claims["sub"] == kSub);
    }
  }
}

TEST_CASE("the raw R‖S signature verifies with OpenSSL once converted to DER (JWT-10)",
          "[svid][jwt]") {
  JwtSigner signer = signerFor(keys().p384.get(), "k384");
  auto token = mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(60));
  REQUIRE(token);
  auto parts = segments(*token);
  std::string raw = *base64UrlDecode(parts[2]);
  REQUIRE(raw.size() == 96);
  ossl::UniquePtr<ECDSA_SIG> sig(ECDSA_SIG_new());
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  REQUIRE(ECDSA_SIG_set0(sig.get(), BN_bin2bn(p, 48, nullptr), BN_bin2bn(p + 48, 48, nullptr)));
  unsigned char* der = nullptr;
  int derLen = i2d_ECDSA_SIG(sig.get(), &der);
  REQUIRE(derLen > 0);
  std::string input = parts[0] + "." + parts[1];
  ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  REQUIRE(EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA384", nullptr, nullptr, keys().p384.get(),
                                  nullptr) == 1);
  CHECK(EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(derLen),
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  OPENSSL_free(der);
}

TEST_CASE("a signer needs an EC P-256/P-384/P-521 or RSA ≥ 2048 private key (JWT-2)",
          "[svid][jwt]") {
  SECTION("Ed25519") {
    ossl::UniquePtr<EVP_PKEY> ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    auto s = JwtSigner::create(std::move(ed));
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Code::InvalidArgument);
  }
  SECTION("secp256k1") { CHECK_FALSE(JwtSigner::create(ecKey("secp256k1"))); }
  SECTION("RSA-1024") {
    ossl::UniquePtr<EVP_PKEY> small(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
    CHECK_FALSE(JwtSigner::create(std::move(small)));
  }
  SECTION("no key") { CHECK_FALSE(JwtSigner::create(nullptr)); }
  SECTION("a public key only") {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(keys().p256.get(), &der);
    const unsigned char* p = der;
    ossl::UniquePtr<EVP_PKEY> pub(d2i_PUBKEY(nullptr, &p, len));
    OPENSSL_free(der);
    REQUIRE(pub);
    auto s = JwtSigner::create(std::move(pub));
    REQUIRE_FALSE(s);
    CHECK_THAT(s.error().message, Catch::Contains("cannot sign"));
  }
  SECTION("the kid defaults to keyIdFor()") {
    auto s = JwtSigner::create(ossl::upRef(keys().p256.get()));
    REQUIRE(s);
    CHECK(s->kid().size() == 32);
  }
}

TEST_CASE("minting drops empty audiences and needs at least one (JWT-6, WAPI-13)", "[svid][jwt]") {
  JwtSigner signer = signerFor(keys().p256.get(), "k256");
  auto token = mintJwtSvid(signer, sid(kSub), {"", kAud, ""}, kNow, Seconds(300));
  REQUIRE(token);
  CHECK(decodeSegment(segments(*token)[1])["aud"] == json::array({kAud}));
  for (const auto& aud : {std::vector<std::string>{}, std::vector<std::string>{"", ""}}) {
    auto none = mintJwtSvid(signer, sid(kSub), aud, kNow, Seconds(300));
    REQUIRE_FALSE(none);
    CHECK(none.error().code == Code::InvalidArgument);
    CHECK_THAT(none.error().message, Catch::Contains("no audience"));
  }
}

TEST_CASE("minting escapes audience strings as JSON and refuses invalid UTF-8 (JWT-6)",
          "[svid][jwt]") {
  JwtSigner signer = signerFor(keys().p256.get(), "k256");
  const std::string odd =
      std::string("q\"b\\s/\n\t\x01\x1f") + "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91";
  auto token = mintJwtSvid(signer, sid(kSub), {odd}, kNow, Seconds(300));
  REQUIRE(token);
  CHECK(decodeSegment(segments(*token)[1])["aud"][0] == odd);
  CHECK(validate(*token, odd));
  for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    auto r = mintJwtSvid(signer, sid(kSub), {bad}, kNow, Seconds(300));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("UTF-8"));
  }
}

TEST_CASE("minting refuses a ttl that is not positive", "[svid][jwt]") {
  JwtSigner signer = signerFor(keys().p256.get(), "k256");
  CHECK_FALSE(mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(0)));
  CHECK_FALSE(mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(-5)));
  CHECK_FALSE(mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(INT64_MAX / 2)));
}

TEST_CASE("a given kid is escaped into the header (JWT-4)", "[svid][jwt]") {
  JwtSigner signer = signerFor(keys().p256.get(), "odd\"kid\\");
  auto token = mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(300));
  REQUIRE(token);
  CHECK(decodeSegment(segments(*token)[0])["kid"] == "odd\"kid\\");
}

TEST_CASE("a token with alg none, HS256, EdDSA or an unknown alg is rejected (JWT-2)",
          "[svid][jwt]") {
  for (const char* alg : {"none", "None", "HS256", "HS512", "EdDSA", "es256", "ES256K", ""}) {
    INFO(alg);
    json hdr = header("k256", alg);
    std::string input = b64(hdr) + "." + b64(claims());
    for (const std::string& sig : {std::string(), base64UrlEncode(std::string(32, 'x'))}) {
      CHECK_THAT(rejected(input + "." + sig), Catch::Contains("is not allowed"));
    }
  }
  json numeric = header();
  numeric["alg"] = 256;
  CHECK_THAT(rejected(craft(numeric, claims())), Catch::Contains("\"alg\""));
  json missing = header();
  missing.erase("alg");
  CHECK_THAT(rejected(b64(missing) + "." + b64(claims()) + ".AAAA"), Catch::Contains("alg"));
}

TEST_CASE("alg must fit the key of the kid (JWT-2)", "[svid][jwt]") {
  const Keys& k = keys();
  SECTION("ES256 signed by the P-384 key") {
    CHECK_THAT(rejected(craft(header("k384", "ES256"), claims(), k.p384.get())),
               Catch::Contains("does not match the key"));
  }
  SECTION("ES384 with the P-256 key") {
    rejected(craft(header("k256", "ES384"), claims(), k.p256.get()));
  }
  SECTION("RS256 with an EC key") {
    rejected(craft(header("k256", "RS256"), claims(), k.rsa.get()));
  }
  SECTION("ES256 with the RSA key") {
    rejected(craft(header("krsa", "ES256"), claims(), k.p256.get()));
  }
  SECTION("PS256 header over an RS256 signature") {
    std::string input = b64(header("krsa", "PS256")) + "." + b64(claims());
    CHECK_THAT(rejected(input + "." + base64UrlEncode(testSign(k.rsa.get(), "RS256", input))),
               Catch::Contains("signature is invalid"));
  }
  SECTION("other RSA and ECDSA algorithms validate") {
    for (const char* alg : {"RS384", "RS512", "PS384", "PS512"}) {
      INFO(alg);
      CHECK(validate(craft(header("krsa", alg), claims(), k.rsa.get())));
    }
  }
}

TEST_CASE("typ is optional but must be JWT or JOSE, case-sensitive (JWT-3)", "[svid][jwt]") {
  json hdr = header();
  hdr.erase("typ");
  CHECK(validate(craft(hdr, claims())));
  hdr["typ"] = "JOSE";
  CHECK(validate(craft(hdr, claims())));
  for (const json& typ : {json("jwt"), json("JWS"), json("at+jwt"), json(""), json(1), json()}) {
    INFO(typ.dump());
    hdr["typ"] = typ;
    CHECK_THAT(rejected(craft(hdr, claims())), Catch::Contains("typ"));
  }
}

TEST_CASE("the header holds only alg, kid and typ (JWT-3)", "[svid][jwt]") {
  for (const char* member :
       {"crit", "jku", "jwk", "x5u", "x5c", "x5t", "b64", "cty", "zip", "enc", "extra"}) {
    INFO(member);
    json hdr = header();
    hdr[member] = member == std::string("crit") ? json::array({"exp"}) : json("x");
    CHECK_THAT(rejected(craft(hdr, claims())), Catch::Contains("is not allowed"));
  }
}

TEST_CASE("a token without a kid is rejected (JWT-4)", "[svid][jwt]") {
  json hdr = header();
  SECTION("missing") { hdr.erase("kid"); }
  SECTION("empty") { hdr["kid"] = ""; }
  SECTION("null") { hdr["kid"] = nullptr; }
  SECTION("not a string") { hdr["kid"] = 5; }
  CHECK_THAT(rejected(craft(hdr, claims())), Catch::Contains("kid"));
}

TEST_CASE("sub must be present and a valid SPIFFE ID (JWT-5)", "[svid][jwt]") {
  json c = claims();
  SECTION("missing") {
    c.erase("sub");
    CHECK_THAT(rejected(craft(header(), c)), Catch::Contains("\"sub\""));
  }
  SECTION("empty") { c["sub"] = ""; }
  SECTION("not a string") { c["sub"] = 7; }
  SECTION("not SPIFFE") { c["sub"] = "https://example.org/web"; }
  SECTION("dot segment") { c["sub"] = "spiffe://example.org/a/../b"; }
  SECTION("upper-case trust domain") { c["sub"] = "spiffe://Example.org/web"; }
  SECTION("trailing slash") { c["sub"] = "spiffe://example.org/web/"; }
  rejected(craft(header(), c));
}

TEST_CASE("aud is a string or an array and must contain our audience (JWT-6)", "[svid][jwt]") {
  json c = claims();
  SECTION("a string") {
    c["aud"] = kAud;
    auto svid = validate(craft(header(), c));
    REQUIRE(svid);
    CHECK(svid->audience == std::vector<std::string>{kAud});
  }
  SECTION("one of several") {
    c["aud"] = json::array({"other", kAud});
    CHECK(validate(craft(header(), c)));
  }
  SECTION("wrong audience") {
    CHECK_THAT(rejected(craft(header(), c), "spiffe://example.org/other"),
               Catch::Contains("audience"));
    rejected(craft(header(), c), "spiffe://example.org/backend/");
    rejected(craft(header(), c), "SPIFFE://example.org/backend");
  }
  SECTION("missing") {
    c.erase("aud");
    rejected(craft(header(), c));
  }
  SECTION("empty array") {
    c["aud"] = json::array();
    rejected(craft(header(), c));
  }
  SECTION("wrong types") {
    for (const json& aud : {json(5), json::array({1}), json::object(), json::array({kAud, 2})}) {
      c["aud"] = aud;
      CHECK_THAT(rejected(craft(header(), c)), Catch::Contains("\"aud\""));
    }
  }
  SECTION("no audience to check against") {
    CHECK_THAT(rejected(craft(header(), c), ""), Catch::Contains("no audience"));
  }
}

TEST_CASE("exp is required and checked with 60 s leeway (JWT-7)", "[svid][jwt]") {
  SECTION("within the leeway") {
    CHECK(validate(craft(header(), claims(-30, -330))));
    CHECK(validate(craft(header(), claims(-60, -360))));
  }
  SECTION("beyond the leeway") {
    CHECK_THAT(rejected(craft(header(), claims(-61, -361))),
               Catch::Contains("token expired at 2026-02-28T23:58:59Z"));
  }
  SECTION("missing") {
    json c = claims();
    c.erase("exp");
    CHECK_THAT(rejected(craft(header(), c)), Catch::Contains("\"exp\""));
  }
  SECTION("a fractional NumericDate is truncated, as go-jose does") {
    json c = claims();
    c["exp"] = static_cast<double>(unixSeconds(kNow)) + 100.75;
    auto svid = validate(craft(header(), c));
    REQUIRE(svid);
    CHECK(svid->expiry == kNow + Seconds(100));
  }
  SECTION("wrong type or out of range") {
    for (const json& exp :
         {json("1772323500"), json(true), json::array({1}), json(1e300), json(-1e300),
          json(99'999'999'999'999LL), json(18'446'744'073'709'551'615ULL)}) {
      INFO(exp.dump());
      json c = claims();
      c["exp"] = exp;
      CHECK_THAT(rejected(craft(header(), c)), Catch::Contains("\"exp\""));
    }
  }
  SECTION("a token that expired long ago") {
    json c = claims();
    c["exp"] = 0;
    CHECK_THAT(rejected(craft(header(), c)), Catch::Contains("1970-01-01T00:00:00Z"));
  }
}

TEST_CASE("nbf and iat more than 60 s in the future are rejected (JWT-8)", "[svid][jwt]") {
  SECTION("iat within the leeway") { CHECK(validate(craft(header(), claims(300, 60)))); }
  SECTION("iat beyond the leeway") {
    CHECK_THAT(rejected(craft(header(), claims(300, 61))), Catch::Contains("issued in the future"));
  }
  SECTION("iat is optional") {
    json c = claims();
    c.erase("iat");
    auto svid = validate(craft(header(), c));
    REQUIRE(svid);
    CHECK_FALSE(svid->issuedAt);
  }
  SECTION("nbf") {
    json c = claims();
    c["nbf"] = unixSeconds(kNow) + 60;
    CHECK(validate(craft(header(), c)));
    c["nbf"] = unixSeconds(kNow) + 61;
    CHECK_THAT(rejected(craft(header(), c)), Catch::Contains("not valid before"));
    c["nbf"] = "soon";
    rejected(craft(header(), c));
  }
}

TEST_CASE("extra claims are allowed and kept; iss and jti must be strings (JWT-9, WAPI-14)",
          "[svid][jwt]") {
  json c = claims();
  c["jti"] = "id-1";
  c["iss"] = "spire";
  c["groups"] = json::array({"a", "b"});
  c["nested"] = json{{"x", json{{"y", 1.5}}}};
  auto svid = validate(craft(header(), c));
  REQUIRE(svid);
  CHECK(svid->claims == c);
  c["iss"] = 5;
  CHECK_THAT(rejected(craft(header(), c)), Catch::Contains("\"iss\""));
  c["iss"] = "spire";
  c["jti"] = json::array();
  rejected(craft(header(), c));
}

TEST_CASE("only the compact form with three unpadded base64url segments parses (JWT-1)",
          "[svid][jwt]") {
  std::string good = craft(header(), claims());
  auto parts = segments(good);
  REQUIRE(validate(good));
  SECTION("segment count") {
    for (const std::string& t :
         {std::string(), std::string("."), std::string("..."), parts[0] + "." + parts[1],
          good + ".", good + "." + parts[2], parts[0] + "." + parts[1] + ".." + parts[2]}) {
      CHECK_THAT(rejected(t), Catch::Contains("three segments"));
    }
    CHECK_THAT(rejected(".."), Catch::Contains("header is not a JSON object"));
  }
  SECTION("padding") {
    // base64url of JSON this size needs padding at least sometimes; force it on each part.
    for (int i = 0; i < 3; ++i) {
      auto p = parts;
      p[static_cast<size_t>(i)] += "=";
      rejected(p[0] + "." + p[1] + "." + p[2]);
    }
    std::string paddedHeader = base64Encode(header().dump());
    rejected(paddedHeader + "." + parts[1] + "." + parts[2]);
  }
  SECTION("standard alphabet and whitespace") {
    std::string t = good;
    t[t.size() - 3] = '+';
    rejected(t);
    rejected(" " + good);
    rejected(good + "\n");
    rejected("Bearer " + good);
  }
  SECTION("JSON serialization") {
    json js{{"payload", parts[1]}, {"protected", parts[0]}, {"signature", parts[2]}};
    rejected(js.dump());
  }
  SECTION("header or payload not a JSON object") {
    rejected(base64UrlEncode("not json") + "." + parts[1] + "." + parts[2]);
    rejected(base64UrlEncode("[\"ES256\"]") + "." + parts[1] + "." + parts[2]);
    rejected(parts[0] + "." + base64UrlEncode("null") + "." + parts[2]);
    rejected(parts[0] + "." + base64UrlEncode("{\"sub\":1") + "." + parts[2]);
    rejected(parts[0] + "." + base64UrlEncode("\xff\xfe") + "." + parts[2]);
    rejected(parts[0] + "." + base64UrlEncode(std::string(5000, '[')) + "." + parts[2]);
    rejected(parts[0] + "." + "." + parts[2]);
  }
  SECTION("truncated") {
    for (size_t n : {good.size() - 1, good.size() - 20, parts[0].size() + 10, size_t{5}}) {
      rejected(good.substr(0, n));
    }
  }
}

TEST_CASE("a tampered payload or signature is rejected (JWT-10, JWT-11)", "[svid][jwt]") {
  JwtSigner signer = signerFor(keys().p256.get(), "k256");
  std::string good = mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(300)).value();
  auto parts = segments(good);
  SECTION("another subject in the payload") {
    json c = decodeSegment(parts[1]);
    c["sub"] = "spiffe://example.org/admin";
    CHECK_THAT(rejected(parts[0] + "." + b64(c) + "." + parts[2]),
               Catch::Contains("signature is invalid"));
  }
  SECTION("a later exp in the payload") {
    json c = decodeSegment(parts[1]);
    c["exp"] = c["exp"].get<int64_t>() + 3600;
    rejected(parts[0] + "." + b64(c) + "." + parts[2]);
  }
  SECTION("a flipped signature bit") {
    std::string sig = *base64UrlDecode(parts[2]);
    sig[10] = static_cast<char>(sig[10] ^ 0x01);
    rejected(parts[0] + "." + parts[1] + "." + base64UrlEncode(sig));
  }
  SECTION("the signature of another token") {
    auto other = mintJwtSvid(signer, sid(kSub), {"x"}, kNow, Seconds(300)).value();
    rejected(parts[0] + "." + parts[1] + "." + segments(other)[2]);
  }
  SECTION("wrong signature lengths") {
    std::string sig = *base64UrlDecode(parts[2]);
    for (const std::string& s : {sig.substr(0, 63), sig + std::string(1, '\0'),
                                 std::string(1, '\0') + sig, std::string(), sig + sig}) {
      CHECK_THAT(rejected(parts[0] + "." + parts[1] + "." + base64UrlEncode(s)),
                 Catch::Contains("signature is invalid"));
    }
  }
  SECTION("a DER signature instead of R‖S") {
    std::string input = parts[0] + "." + parts[1];
    ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    REQUIRE(EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, keys().p256.get(),
                                  nullptr) == 1);
    unsigned char der[80];
    size_t len = sizeof(der);
    REQUIRE(EVP_DigestSign(ctx.get(), der, &len,
                           reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1);
    rejected(input + "." + base64UrlEncode(std::string(reinterpret_cast<char*>(der), len)));
  }
  SECTION("r and s of zero") {
    rejected(parts[0] + "." + parts[1] + "." + base64UrlEncode(std::string(64, '\0')));
  }
  SECTION("an RSA signature one byte short or long") {
    std::string t = craft(header("krsa", "RS256"), claims(), keys().rsa.get());
    auto p = segments(t);
    std::string sig = *base64UrlDecode(p[2]);
    rejected(p[0] + "." + p[1] + "." + base64UrlEncode(sig.substr(1)));
    rejected(p[0] + "." + p[1] + "." + base64UrlEncode(std::string(1, '\0') + sig));
  }
}

TEST_CASE("an unknown trust domain or kid makes a token untrusted (JWT-11, BUNDLE-8)",
          "[svid][jwt]") {
  SECTION("a subject whose domain has no bundle") {
    json c = claims();
    c["sub"] = "spiffe://foreign.org/web";
    CHECK_THAT(rejected(craft(header(), c)), Catch::Contains("no bundle for trust domain"));
  }
  SECTION("an unknown kid") {
    CHECK_THAT(rejected(craft(header("unknown"), claims())), Catch::Contains("no JWT authority"));
  }
  SECTION("a kid of another trust domain's bundle") {
    // other.org's key signs a token for an example.org subject: never merge domains.
    rejected(craft(header("kother"), claims(), keys().p256b.get()));
  }
  SECTION("a foreign key that claims a trusted kid") {
    CHECK_THAT(rejected(craft(header("k256"), claims(), keys().p256b.get())),
               Catch::Contains("signature is invalid"));
  }
  SECTION("a null bundle pointer") {
    BundleMap map;
    map.emplace(td("example.org"), nullptr);
    auto r = validateJwtSvid(craft(header(), claims()), map, kAud, kNow);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("no bundle"));
  }
  SECTION("the right domain validates") {
    json c = claims();
    c["sub"] = "spiffe://other.org/web";
    auto svid = validate(craft(header("kother"), c, keys().p256b.get()));
    REQUIRE(svid);
    CHECK(svid->subject.trustDomain() == td("other.org"));
  }
}

TEST_CASE("checks run in JWT-11 order", "[svid][jwt]") {
  SECTION("structure before trust: a bad header on an unknown domain reports the header") {
    json c = claims();
    c["sub"] = "spiffe://foreign.org/web";
    CHECK_THAT(rejected(craft(header("k256", "HS256"), c)), Catch::Contains("not allowed"));
  }
  SECTION("trust before signature") {
    json c = claims();
    c["sub"] = "spiffe://foreign.org/web";
    std::string t = craft(header(), c);
    CHECK_THAT(rejected(t.substr(0, t.rfind('.') + 1) + "AAAA"), Catch::Contains("no bundle"));
  }
  SECTION("signature before audience and time") {
    std::string t = craft(header(), claims(-1000, -1300));
    std::string forged = t.substr(0, t.rfind('.') + 1) + base64UrlEncode(std::string(64, 'x'));
    CHECK_THAT(rejected(forged, "wrong"), Catch::Contains("signature is invalid"));
  }
  SECTION("audience before time") {
    CHECK_THAT(rejected(craft(header(), claims(-1000, -1300)), "wrong"),
               Catch::Contains("audience"));
  }
}

TEST_CASE("parsing without verification checks structure and audience only", "[svid][jwt]") {
  std::string expiredForged = craft(header("unknown"), claims(-1000, -1300));
  expiredForged = expiredForged.substr(0, expiredForged.rfind('.') + 1) + "AAAA";
  auto svid = parseJwtSvidInsecure(expiredForged, {"x", kAud});
  REQUIRE(svid);
  CHECK(svid->subject == sid(kSub));
  CHECK(svid->kid == "unknown");
  CHECK(svid->token == expiredForged);
  auto wrongAud = parseJwtSvidInsecure(expiredForged, {"x"});
  REQUIRE_FALSE(wrongAud);
  CHECK(wrongAud.error().code == Code::InvalidArgument);
  CHECK_THAT(wrongAud.error().message, Catch::StartsWith("parsing JWT-SVID: "));
  CHECK_FALSE(parseJwtSvidInsecure(expiredForged, {}));
  CHECK_FALSE(parseJwtSvidInsecure(expiredForged, {""}));
  CHECK_FALSE(parseJwtSvidInsecure(craft(header("k256", "none"), claims()), {kAud}));
  json noExp = claims();
  noExp.erase("exp");
  CHECK_FALSE(parseJwtSvidInsecure(craft(header(), noExp), {kAud}));
  json hdr = header();
  hdr["typ"] = "jwt";
  CHECK_FALSE(parseJwtSvidInsecure(craft(hdr, claims()), {kAud}));
}

TEST_CASE("minting and validating from several threads at once", "[svid][jwt]") {
  JwtSigner es = signerFor(keys().p256.get(), "k256");
  JwtSigner ps = signerFor(keys().rsa.get(), "krsa", true);
  BundleMap map = bundles();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const JwtSigner& signer = t % 2 == 0 ? es : ps;
      for (int i = 0; i < 25; ++i) {
        auto token = mintJwtSvid(signer, sid(kSub), {kAud}, kNow, Seconds(300));
        if (!token || !validateJwtSvid(*token, map, kAud, kNow)) {
          ++failures[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  CHECK(failures == std::vector<int>(4, 0));
}

}  // namespace
}  // namespace lanyard::svid
