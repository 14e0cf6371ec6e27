// SPDX-License-Identifier: Apache-2.0
// Converts EC and RSA public keys to and from JWK key members (BUNDLE-7) and derives key IDs.
#include "svid/jwk.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "svid/encoding.h"

namespace lanyard::svid {
namespace {

/// An EC curve JWKs may name (BUNDLE-7), with OpenSSL's name and the coordinate size.
struct Curve {
  const char* jwkName;
  const char* opensslName;
  const char* alias;  // the other name OpenSSL may report for the same group
  size_t size;
};

constexpr std::array<Curve, 3> kCurves{{
    {"P-256", "prime256v1", "secp256r1", 32},
    {"P-384", "secp384r1", "P-384", 48},
    {"P-521", "secp521r1", "P-521", 66},
}};

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;
// Leading zero bytes are tolerated in `n` (go-jose reads it as a big integer), within reason.
constexpr size_t kMaxRsaModulusBytes = kMaxRsaBits / 8 + 8;

Unexpected invalid(std::string what) {
  return fail(Code::InvalidArgument, "parsing JWK: " + std::move(what));
}

const Curve* curveByOpensslName(std::string_view name) {
  for (const Curve& c : kCurves) {
    if (name == c.opensslName || name == c.alias || name == c.jwkName) {
      return &c;
    }
  }
  return nullptr;
}

std::string bnToBytes(const BIGNUM* bn, size_t padTo) {
  size_t len = std::max(padTo, static_cast<size_t>(BN_num_bytes(bn)));
  std::string out(len, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(len));
  return out;
}

Result<ossl::UniquePtr<BIGNUM>> getBn(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    return ossl::fail("encoding JWK: reading key parameter", Code::InvalidArgument);
  }
  return ossl::UniquePtr<BIGNUM>(bn);
}

/// Reads a required string member as unpadded base64url.
Result<std::string> decodedMember(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || it->is_null()) {
    return invalid(std::string("missing \"") + name + "\"");
  }
  if (!it->is_string()) {
    return invalid(std::string("\"") + name + "\" is not a string");
  }
  auto decoded = base64UrlDecode(it->get_ref<const std::string&>());
  if (!decoded) {
    return invalid(std::string("\"") + name + "\" is not unpadded base64url");
  }
  return std::move(decoded).value();
}

Result<ossl::UniquePtr<EVP_PKEY>> keyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  ossl::UniquePtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  ossl::UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return ossl::fail("parsing JWK: building the public key", Code::InvalidArgument);
  }
  return ossl::UniquePtr<EVP_PKEY>(raw);
}

Result<ossl::UniquePtr<EVP_PKEY>> ecKeyFromJwk(const nlohmann::json& jwk) {
  auto crvIt = jwk.find("crv");
  if (crvIt == jwk.end() || !crvIt->is_string()) {
    return invalid("EC key without a string \"crv\"");
  }
  const Curve* curve = nullptr;
  for (const Curve& c : kCurves) {
    if (crvIt->get_ref<const std::string&>() == c.jwkName) {
      curve = &c;
    }
  }
  if (curve == nullptr) {
    return invalid("unsupported EC curve");
  }
  LANYARD_TRY(std::string x, decodedMember(jwk, "x"));
  LANYARD_TRY(std::string y, decodedMember(jwk, "y"));
  // go-jose insists on coordinates of exactly the curve size (BUNDLE-7).
  if (x.size() != curve->size || y.size() != curve->size) {
    return invalid(std::string("EC coordinates are not ") + std::to_string(curve->size) +
                   " bytes long");
  }
  std::string point = "\x04" + x + y;
  ossl::UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->opensslName,
                                      0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return ossl::fail("parsing JWK: building EC parameters");
  }
  auto key = keyFromParams("EC", bld.get());
  if (!key) {
    ERR_clear_error();
    return invalid("EC point is not on the curve");
  }
  ossl::UniquePtr<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return invalid("EC point is not a valid public key");
  }
  return key;
}

Result<ossl::UniquePtr<EVP_PKEY>> rsaKeyFromJwk(const nlohmann::json& jwk) {
  LANYARD_TRY(std::string nBytes, decodedMember(jwk, "n"));
  LANYARD_TRY(std::string eBytes, decodedMember(jwk, "e"));
  if (nBytes.size() > kMaxRsaModulusBytes || eBytes.size() > 8) {
    return invalid("RSA parameters are too long");
  }
  ossl::UniquePtr<BIGNUM> n(BN_bin2bn(reinterpret_cast<const unsigned char*>(nBytes.data()),
                                      static_cast<int>(nBytes.size()), nullptr));
  ossl::UniquePtr<BIGNUM> e(BN_bin2bn(reinterpret_cast<const unsigned char*>(eBytes.data()),
                                      static_cast<int>(eBytes.size()), nullptr));
  if (!n || !e) {
    return ossl::fail("parsing JWK: decoding RSA parameters");
  }
  int bits = BN_num_bits(n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return invalid("RSA modulus must have 2048 to 16384 bits");
  }
  if (!BN_is_odd(n.get())) {
    return invalid("RSA modulus is even");
  }
  // Go's crypto/rsa refuses exponents outside [2, 2^31 - 1]; an even one is never valid.
  if (!BN_is_odd(e.get()) || BN_is_one(e.get()) || BN_num_bits(e.get()) > 31) {
    return invalid("RSA exponent must be odd and between 3 and 2^31-1");
  }
  ossl::UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return ossl::fail("parsing JWK: building RSA parameters");
  }
  return keyFromParams("RSA", bld.get());
}

}  // namespace

Result<nlohmann::json> publicKeyToJwk(const EVP_PKEY* key) {
  if (key == nullptr) {
    return fail(Code::InvalidArgument, "encoding JWK: no key");
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    std::array<char, 64> group{};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                       &len) != 1) {
      ERR_clear_error();
      return fail(Code::InvalidArgument, "encoding JWK: EC key without a named curve");
    }
    const Curve* curve = curveByOpensslName(std::string_view(group.data(), len));
    if (curve == nullptr) {
      return fail(Code::InvalidArgument, "encoding JWK: unsupported EC curve");
    }
    LANYARD_TRY(auto x, getBn(key, OSSL_PKEY_PARAM_EC_PUB_X));
    LANYARD_TRY(auto y, getBn(key, OSSL_PKEY_PARAM_EC_PUB_Y));
    return nlohmann::json{{"kty", "EC"},
                          {"crv", curve->jwkName},
                          {"x", base64UrlEncode(bnToBytes(x.get(), curve->size))},
                          {"y", base64UrlEncode(bnToBytes(y.get(), curve->size))}};
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    LANYARD_TRY(auto n, getBn(key, OSSL_PKEY_PARAM_RSA_N));
    LANYARD_TRY(auto e, getBn(key, OSSL_PKEY_PARAM_RSA_E));
    return nlohmann::json{{"kty", "RSA"},
                          {"n", base64UrlEncode(bnToBytes(n.get(), 0))},
                          {"e", base64UrlEncode(bnToBytes(e.get(), 0))}};
  }
  return fail(Code::InvalidArgument, "encoding JWK: only EC and RSA keys are supported");
}

Result<ossl::UniquePtr<EVP_PKEY>> publicKeyFromJwk(const nlohmann::json& jwk) {
  if (!jwk.is_object()) {
    return invalid("not a JSON object");
  }
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) {
    return invalid("missing \"kty\"");
  }
  const std::string& type = kty->get_ref<const std::string&>();
  if (type == "EC") {
    return ecKeyFromJwk(jwk);
  }
  if (type == "RSA") {
    return rsaKeyFromJwk(jwk);
  }
  // go-jose fails the whole set on an unknown kty (BUNDLE-7).
  return invalid("unsupported \"kty\"");
}

Result<std::string> keyIdFor(const EVP_PKEY* key) {
  if (key == nullptr) {
    return fail(Code::InvalidArgument, "computing key ID: no key");
  }
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) {
    return ossl::fail("computing key ID: encoding the public key");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digestLen = 0;
  int ok =
      EVP_Digest(der, static_cast<size_t>(len), digest.data(), &digestLen, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) {
    return ossl::fail("computing key ID: hashing the public key");
  }
  return base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), 24));
}

}  // namespace lanyard::svid
