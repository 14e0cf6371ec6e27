// SPDX-License-Identifier: Apache-2.0
// JWT-SVID minting (hand-built JSON, raw R‖S signatures) and validation per JWT-11.
#include "svid/jwt_svid.h"

#include <array>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

#include <openssl/err.h>

#include "common/text.h"
#include "svid/encoding.h"
#include "svid/json_depth.h"
#include "svid/jwk.h"
#include "svid/jws.h"

namespace lanyard::svid {
namespace {

using jws::AlgInfo;
using jws::ecHalfSize;
using jws::infoOf;
using jws::signJws;
using jws::verifyJws;
using nlohmann::json;

// NumericDates beyond this many seconds from the epoch (year 2223) would overflow SysTime.
constexpr int64_t kMaxNumericDate = 8'000'000'000;
constexpr int kMaxJsonDepth = 16;
// Headers we mint are about 100 characters; a huge one is not worth remembering.
constexpr size_t kMaxCachedHeader = 512;

Unexpected bad(std::string what) { return fail(Code::InvalidArgument, std::move(what)); }

std::string formatTime(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf.data(), n);
}

/// Length of the valid UTF-8 sequence starting at s[i] (lead byte >= 0x80), or 0.
size_t utf8SequenceLength(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    lo = c == 0xe0 ? 0xa0 : 0x80;
    hi = c == 0xed ? 0x9f : 0xbf;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  if (i + len > s.size() || at(i + 1) < lo || at(i + 1) > hi) {
    return 0;
  }
  for (size_t k = 2; k < len; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xbf) {
      return 0;
    }
  }
  return len;
}

/// Appends `s` as a JSON string literal; false when `s` is not valid UTF-8.
bool appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t len = utf8SequenceLength(s, i);
      if (len == 0) {
        return false;
      }
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  return true;
}

/// Decodes one base64url segment and parses it as a JSON object.
Result<json> decodeObject(std::string_view segment, const char* what) {
  auto raw = base64UrlDecode(segment);
  if (!raw) {
    return bad(std::string(what) + " is not unpadded base64url");
  }
  json doc;
  if (jsonDepthWithin(*raw, kMaxJsonDepth)) {
    try {
      doc = json::parse(raw->begin(), raw->end(), nullptr, /*allow_exceptions=*/false);
    } catch (const std::exception&) {
      doc = json(json::value_t::discarded);
    }
  } else {
    doc = json(json::value_t::discarded);
  }
  if (!doc.is_object()) {
    return bad(std::string(what) + " is not a JSON object");
  }
  return doc;
}

/// Reads an optional string claim (absent or null gives nullopt; another type is an error, as
/// go-jose's typed Claims fail to unmarshal).
Result<std::optional<std::string>> stringClaim(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    return std::optional<std::string>();
  }
  if (!it->is_string()) {
    return bad(std::string("\"") + name + "\" is not a string");
  }
  return std::optional<std::string>(it->get<std::string>());
}

/// Reads a NumericDate as go-jose does (any JSON number, truncated to whole seconds).
Result<std::optional<int64_t>> dateClaim(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    return std::optional<int64_t>();
  }
  int64_t v = 0;
  if (it->is_number_unsigned()) {
    v = it->get<uint64_t>() > static_cast<uint64_t>(kMaxNumericDate) ? kMaxNumericDate + 1
                                                                     : it->get<int64_t>();
  } else if (it->is_number_integer()) {
    v = it->get<int64_t>();
  } else if (it->is_number_float()) {
    double d = it->get<double>();
    if (!(d > -static_cast<double>(kMaxNumericDate) && d < static_cast<double>(kMaxNumericDate))) {
      d = static_cast<double>(kMaxNumericDate) + 1;
    }
    v = static_cast<int64_t>(d);
  } else {
    return bad(std::string("\"") + name + "\" is not a number");
  }
  if (v > kMaxNumericDate || v < -kMaxNumericDate) {
    return bad(std::string("\"") + name + "\" is out of range");
  }
  return std::optional<int64_t>(v);
}

/// `aud` is a string or an array of strings (JWT-6).
Result<std::vector<std::string>> audienceClaim(const json& obj) {
  std::vector<std::string> out;
  auto it = obj.find("aud");
  if (it == obj.end() || it->is_null()) {
    return out;
  }
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
    return out;
  }
  if (!it->is_array()) {
    return bad("\"aud\" is not a string or an array of strings");
  }
  for (const json& a : *it) {
    if (!a.is_string()) {
      return bad("\"aud\" is not a string or an array of strings");
    }
    out.push_back(a.get<std::string>());
  }
  return out;
}

/// A token after the structural checks, before any key is involved.
struct ParsedToken {
  JwtSvid svid;
  std::string_view signingInput;
  std::string signature;
  std::optional<int64_t> notBefore;
};

/// Checks the protected header: only alg/kid/typ, alg allowed, typ JWT/JOSE, kid present.
Result<std::pair<const AlgInfo*, std::string>> checkHeader(const json& header) {
  const AlgInfo* alg = nullptr;
  std::string kid;
  for (const auto& [name, value] : header.items()) {
    if (name == "alg") {
      if (value.is_string()) {
        alg = jws::findAlg(value.get_ref<const std::string&>());
      }
      if (alg == nullptr) {
        // JWT-2: none, HS*, EdDSA and anything else are refused.
        return bad(value.is_string() ? "algorithm " + text::quote(value.get<std::string>(), 64) +
                                           " is not allowed"
                                     : std::string("\"alg\" is not a string"));
      }
    } else if (name == "typ") {
      // JWT-3: go-spiffe compares case-sensitively.
      if (!value.is_string() || (value.get_ref<const std::string&>() != "JWT" &&
                                 value.get_ref<const std::string&>() != "JOSE")) {
        return bad("header \"typ\" is not JWT or JOSE");
      }
    } else if (name == "kid") {
      if (!value.is_null() && !value.is_string()) {
        return bad("header \"kid\" is not a string");
      }
      kid = value.is_string() ? value.get<std::string>() : std::string();
    } else {
      // JWT-3: the header holds only alg, kid and typ (no crit, jku, jwk, x5u, b64 …).
      return bad("header member " + text::quote(name, 64) + " is not allowed");
    }
  }
  if (alg == nullptr) {
    return bad("header has no \"alg\"");
  }
  if (kid.empty()) {
    return bad("header has no \"kid\"");  // JWT-4
  }
  return std::make_pair(alg, std::move(kid));
}

/// Decodes and checks the header segment. A validator sees the same few headers over and over
/// (one per signing key), so the last good one is remembered per thread.
Result<std::pair<const AlgInfo*, std::string>> parseHeader(std::string_view segment) {
  struct Cache {
    std::string segment;
    const AlgInfo* alg = nullptr;
    std::string kid;
  };
  thread_local Cache cache;
  if (cache.alg != nullptr && segment == cache.segment) {
    return std::make_pair(cache.alg, cache.kid);
  }
  LANYARD_TRY(json header, decodeObject(segment, "header"));
  LANYARD_TRY(auto algKid, checkHeader(header));
  if (segment.size() <= kMaxCachedHeader) {
    cache.segment = segment;
    cache.alg = algKid.first;
    cache.kid = algKid.second;
  }
  return algKid;
}

/// JWT-11 up to reading the unverified claims: compact form, header, sub, exp.
Result<ParsedToken> parseToken(std::string_view token) {
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return bad("token is not a compact JWS with three segments");  // JWT-1
  }
  LANYARD_TRY(auto algKid, parseHeader(token.substr(0, dot1)));
  LANYARD_TRY(json claims, decodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload"));
  auto signature = base64UrlDecode(token.substr(dot2 + 1));
  if (!signature) {
    return bad("signature is not unpadded base64url");
  }
  LANYARD_TRY(auto sub, stringClaim(claims, "sub"));
  LANYARD_TRY(auto iss, stringClaim(claims, "iss"));
  LANYARD_TRY(auto jti, stringClaim(claims, "jti"));
  LANYARD_TRY(auto audience, audienceClaim(claims));
  LANYARD_TRY(auto exp, dateClaim(claims, "exp"));
  LANYARD_TRY(auto nbf, dateClaim(claims, "nbf"));
  LANYARD_TRY(auto iat, dateClaim(claims, "iat"));
  if (!sub || sub->empty()) {
    return bad("token has no \"sub\" claim");  // JWT-5
  }
  if (!exp) {
    return bad("token has no \"exp\" claim");  // JWT-7
  }
  auto subject = SpiffeId::parse(*sub);
  if (!subject) {
    return bad("\"sub\" is not a valid SPIFFE ID");
  }
  std::optional<SysTime> issuedAt;
  if (iat) {
    issuedAt = fromUnixSeconds(*iat);
  }
  return ParsedToken{
      JwtSvid{std::string(), std::move(subject).value(), std::move(audience), fromUnixSeconds(*exp),
              issuedAt, std::move(algKid.second), algKid.first->alg, std::move(claims)},
      token.substr(0, dot2), std::move(signature).value(), nbf};
}

bool hasAudience(const std::vector<std::string>& have, std::string_view want) {
  for (const auto& a : have) {
    if (a == want) {
      return true;
    }
  }
  return false;
}

/// JWT-11 from the bundle lookup on: key by kid, signature, aud, exp/nbf/iat with leeway.
Result<void> verifyToken(const ParsedToken& t, const BundleMap& bundles, std::string_view audience,
                         SysTime now) {
  const TrustDomain& td = t.svid.subject.trustDomain();
  auto bundle = bundles.find(td);
  if (bundle == bundles.end() || !bundle->second) {
    return bad("no bundle for trust domain " + td.name() + ": subject is untrusted");
  }
  const EVP_PKEY* key = bundle->second->findJwtAuthority(t.svid.kid);
  if (key == nullptr) {
    return bad("no JWT authority with kid " + text::quote(t.svid.kid, 64) + " for trust domain " +
               td.name());
  }
  const AlgInfo& alg = infoOf(t.svid.alg);
  bool keyFits = alg.ecSize != 0 ? ecHalfSize(key) == alg.ecSize : EVP_PKEY_is_a(key, "RSA");
  if (!keyFits) {
    return bad(std::string("algorithm ") + alg.name + " does not match the key of kid " +
               text::quote(t.svid.kid, 64));
  }
  // JWT-10: raw R‖S of exactly twice the half size; RSA signatures are as long as the modulus.
  size_t wantLen = alg.ecSize != 0 ? static_cast<size_t>(2 * alg.ecSize)
                                   : static_cast<size_t>(EVP_PKEY_get_size(key));
  if (t.signature.size() != wantLen || !verifyJws(key, alg, t.signingInput, t.signature)) {
    return bad("signature is invalid");
  }
  if (!hasAudience(t.svid.audience, audience)) {
    return bad("audience " + text::quote(audience, 64) + " is not in the token's \"aud\"");
  }
  const int64_t nowSec = unixSeconds(now);
  const int64_t leeway = kJwtLeeway.count();
  const int64_t exp = unixSeconds(t.svid.expiry);
  if (t.notBefore && nowSec + leeway < *t.notBefore) {
    return bad("token is not valid before " + formatTime(*t.notBefore));
  }
  if (nowSec - leeway > exp) {
    return bad("token expired at " + formatTime(exp));
  }
  if (t.svid.issuedAt && nowSec + leeway < unixSeconds(*t.svid.issuedAt)) {
    return bad("token was issued in the future at " + formatTime(unixSeconds(*t.svid.issuedAt)));
  }
  return {};
}

}  // namespace

const char* jwtAlgName(JwtAlg alg) { return infoOf(alg).name; }

Result<JwtSigner> JwtSigner::create(ossl::UniquePtr<EVP_PKEY> key, std::string kid, bool rsaPss) {
  constexpr std::string_view kDoing = "creating JWT signer";
  if (!key) {
    return fail(Code::InvalidArgument, "creating JWT signer: no key");
  }
  JwtAlg alg = JwtAlg::ES256;
  if (int half = ecHalfSize(key.get()); half != 0) {
    alg = half == 32 ? JwtAlg::ES256 : (half == 48 ? JwtAlg::ES384 : JwtAlg::ES512);
  } else if (EVP_PKEY_is_a(key.get(), "RSA")) {
    if (EVP_PKEY_get_bits(key.get()) < 2048 ||
        EVP_PKEY_get_size(key.get()) > static_cast<int>(jws::kMaxSignatureBytes)) {
      return fail(Code::InvalidArgument, "creating JWT signer: RSA keys need 2048 to 8192 bits");
    }
    alg = rsaPss ? JwtAlg::PS256 : JwtAlg::RS256;
  } else {
    // JWT-2: EC P-256/P-384/P-521 or RSA only (no Ed25519).
    return fail(Code::InvalidArgument, "creating JWT signer: unsupported key type");
  }
  if (kid.empty()) {
    auto computed = keyIdFor(key.get());
    if (!computed) {
      return Unexpected{computed.error().wrap(kDoing)};
    }
    kid = std::move(computed).value();
  }
  std::string header = std::string(R"({"alg":")") + jwtAlgName(alg) + R"(","kid":)";
  if (!appendJsonString(header, kid)) {
    return fail(Code::InvalidArgument, "creating JWT signer: kid is not valid UTF-8");
  }
  header += R"(,"typ":"JWT"})";
  // A key without its private half would fail every mint; find out now.
  if (!signJws(key.get(), infoOf(alg), "lanyard")) {
    return fail(Code::InvalidArgument, "creating JWT signer: the key cannot sign");
  }
  JwtSigner signer;
  signer.key_ = std::move(key);
  signer.kid_ = std::move(kid);
  signer.alg_ = alg;
  signer.headerB64_ = base64UrlEncode(header);
  return Result<JwtSigner>(std::move(signer));
}

Result<std::string> mintJwtSvid(const JwtSigner& signer, const SpiffeId& subject,
                                const std::vector<std::string>& audience, SysTime now,
                                Seconds ttl) {
  if (!signer.key_) {
    return fail(Code::FailedPrecondition, "minting JWT-SVID: signer has no key");
  }
  const int64_t iat = unixSeconds(now);
  if (ttl.count() <= 0 || ttl.count() > kMaxNumericDate || iat + ttl.count() > kMaxNumericDate) {
    return fail(Code::InvalidArgument, "minting JWT-SVID: ttl out of range");
  }
  std::string claims;
  claims.reserve(96 + subject.path().size() + subject.trustDomain().name().size());
  claims += R"({"sub":)";
  appendJsonString(claims, subject.str());
  claims += R"(,"aud":[)";
  bool any = false;
  for (const auto& a : audience) {
    if (a.empty()) {
      continue;  // WAPI-13: empty audience strings are dropped
    }
    if (any) {
      claims += ',';
    }
    if (!appendJsonString(claims, a)) {
      return fail(Code::InvalidArgument, "minting JWT-SVID: audience is not valid UTF-8");
    }
    any = true;
  }
  if (!any) {
    return fail(Code::InvalidArgument, "minting JWT-SVID: no audience");  // JWT-6
  }
  claims += R"(],"exp":)";
  claims += std::to_string(iat + ttl.count());
  claims += R"(,"iat":)";
  claims += std::to_string(iat);
  claims += '}';

  std::string token;
  token.reserve(signer.headerB64_.size() + claims.size() * 4 / 3 + 200);
  token += signer.headerB64_;
  token += '.';
  token += base64UrlEncode(claims);
  LANYARD_TRY(std::string sig, signJws(signer.key_.get(), infoOf(signer.alg_), token));
  token += '.';
  token += base64UrlEncode(sig);
  return token;
}

Result<JwtSvid> validateJwtSvid(std::string_view token, const BundleMap& bundles,
                                std::string_view audience, SysTime now) {
  constexpr std::string_view kDoing = "validating JWT-SVID";
  if (audience.empty()) {
    return fail(Code::InvalidArgument, "validating JWT-SVID: no audience to check against");
  }
  auto parsed = parseToken(token);
  if (!parsed) {
    return Unexpected{parsed.error().wrap(kDoing)};
  }
  auto verified = verifyToken(*parsed, bundles, audience, now);
  if (!verified) {
    return Unexpected{verified.error().wrap(kDoing)};
  }
  parsed->svid.token = std::string(token);
  return std::move(parsed->svid);
}

Result<JwtSvid> parseJwtSvidInsecure(std::string_view token,
                                     const std::vector<std::string>& audience) {
  constexpr std::string_view kDoing = "parsing JWT-SVID";
  auto parsed = parseToken(token);
  if (!parsed) {
    return Unexpected{parsed.error().wrap(kDoing)};
  }
  bool found = false;
  for (const auto& want : audience) {
    found = found || (!want.empty() && hasAudience(parsed->svid.audience, want));
  }
  if (!found) {
    return fail(Code::InvalidArgument,
                "parsing JWT-SVID: none of the expected audiences is in "
                "the token's \"aud\"");
  }
  parsed->svid.token = std::string(token);
  return std::move(parsed->svid);
}

}  // namespace lanyard::svid
