// SPDX-License-Identifier: Apache-2.0
// JWS signing and verification with raw R‖S ECDSA signatures (JWT-2, JWT-10).
#include "svid/jws.h"

#include <array>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

namespace lanyard::svid::jws {
namespace {

constexpr std::array<AlgInfo, 9> kAlgs{{
    {JwtAlg::ES256, "ES256", "SHA256", 32, false},
    {JwtAlg::ES384, "ES384", "SHA384", 48, false},
    {JwtAlg::ES512, "ES512", "SHA512", 66, false},
    {JwtAlg::RS256, "RS256", "SHA256", 0, false},
    {JwtAlg::RS384, "RS384", "SHA384", 0, false},
    {JwtAlg::RS512, "RS512", "SHA512", 0, false},
    {JwtAlg::PS256, "PS256", "SHA256", 0, true},
    {JwtAlg::PS384, "PS384", "SHA384", 0, true},
    {JwtAlg::PS512, "PS512", "SHA512", 0, true},
}};

/// Resets a thread-local digest context when a sign or verify is done, so it does not keep the
/// key referenced.
struct CtxReset {
  EVP_MD_CTX* ctx;
  ~CtxReset() { EVP_MD_CTX_reset(ctx); }
};

EVP_MD_CTX* threadCtx() {
  thread_local ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  return ctx.get();
}

/// Raw R‖S back to the DER form OpenSSL verifies; empty on failure.
std::string rawToDer(std::string_view raw) {
  size_t half = raw.size() / 2;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ossl::UniquePtr<ECDSA_SIG> sig(ECDSA_SIG_new());
  ossl::UniquePtr<BIGNUM> r(BN_bin2bn(p, static_cast<int>(half), nullptr));
  ossl::UniquePtr<BIGNUM> s(BN_bin2bn(p + half, static_cast<int>(half), nullptr));
  // ECDSA_SIG_set0 takes ownership of r and s on success.
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return {};
  }
  (void)r.release();
  (void)s.release();
  std::array<unsigned char, 256> der{};
  if (i2d_ECDSA_SIG(sig.get(), nullptr) > static_cast<int>(der.size())) {
    return {};
  }
  unsigned char* out = der.data();
  int len = i2d_ECDSA_SIG(sig.get(), &out);
  if (len <= 0) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(der.data()), static_cast<size_t>(len));
}

}  // namespace

const AlgInfo& infoOf(JwtAlg alg) { return kAlgs[static_cast<size_t>(alg)]; }

const AlgInfo* findAlg(std::string_view name) {
  for (const auto& a : kAlgs) {
    if (name == a.name) {
      return &a;
    }
  }
  return nullptr;
}

int ecHalfSize(const EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) {
    return 0;
  }
  std::array<char, 32> group{};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                     &len) != 1) {
    ERR_clear_error();
    return 0;
  }
  std::string_view name(group.data(), len);
  if (name == "prime256v1" || name == "P-256") {
    return 32;
  }
  if (name == "secp384r1" || name == "P-384") {
    return 48;
  }
  if (name == "secp521r1" || name == "P-521") {
    return 66;
  }
  return 0;
}

Result<std::string> signJws(EVP_PKEY* key, const AlgInfo& alg, std::string_view input) {
  EVP_MD_CTX* ctx = threadCtx();
  if (ctx == nullptr) {
    return ossl::fail("signing JWT-SVID");
  }
  CtxReset reset{ctx};
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit_ex(ctx, &pctx, alg.digest, nullptr, nullptr, key, nullptr) != 1) {
    return ossl::fail("signing JWT-SVID");
  }
  // RFC 7518 §3.5: PSS with MGF1 of the same hash and a salt as long as the hash.
  if (alg.pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    return ossl::fail("signing JWT-SVID");
  }
  std::array<unsigned char, kMaxSignatureBytes> sig{};
  size_t sigLen = sig.size();
  if (EVP_DigestSign(ctx, sig.data(), &sigLen, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return ossl::fail("signing JWT-SVID");
  }
  if (alg.ecSize == 0) {
    return std::string(reinterpret_cast<const char*>(sig.data()), sigLen);
  }
  const unsigned char* p = sig.data();
  ossl::UniquePtr<ECDSA_SIG> ecSig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sigLen)));
  if (!ecSig) {
    return ossl::fail("signing JWT-SVID: decoding the ECDSA signature");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(ecSig.get(), &r, &s);
  std::string raw(static_cast<size_t>(2 * alg.ecSize), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, alg.ecSize) < 0 || BN_bn2binpad(s, out + alg.ecSize, alg.ecSize) < 0) {
    return fail(Code::Internal, "signing JWT-SVID: ECDSA signature too long");
  }
  return raw;
}

bool verifyJws(const EVP_PKEY* key, const AlgInfo& alg, std::string_view input,
               std::string_view sig) {
  std::string der;
  if (alg.ecSize != 0) {
    der = rawToDer(sig);
    if (der.empty()) {
      return false;
    }
    sig = der;
  }
  EVP_MD_CTX* ctx = threadCtx();
  if (ctx == nullptr) {
    return false;
  }
  CtxReset reset{ctx};
  EVP_PKEY_CTX* pctx = nullptr;
  // OpenSSL only up-refs the key; the parameter is not const for historical reasons.
  bool ok = EVP_DigestVerifyInit_ex(ctx, &pctx, alg.digest, nullptr, nullptr,
                                    const_cast<EVP_PKEY*>(key), nullptr) == 1;
  // go-jose verifies PSS with an automatically detected salt length.
  if (ok && alg.pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
  }
  ok = ok &&
       EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace lanyard::svid::jws
