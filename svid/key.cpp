// SPDX-License-Identifier: Apache-2.0
// Key generation and PEM/DER (de)serialisation through EVP and the OSSL_ENCODER/DECODER APIs.
#include "svid/key.h"

#include <cstring>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

namespace lanyard::svid {
namespace {

struct KeyTypeInfo {
  KeyType type;
  const char* name;
  const char* curve;  // nullptr for RSA
  unsigned bits;
};

constexpr KeyTypeInfo kKeyTypes[] = {
    {KeyType::EcP256, "ec-p256", "P-256", 256},    {KeyType::EcP384, "ec-p384", "P-384", 384},
    {KeyType::Rsa2048, "rsa-2048", nullptr, 2048}, {KeyType::Rsa3072, "rsa-3072", nullptr, 3072},
    {KeyType::Rsa4096, "rsa-4096", nullptr, 4096},
};

const KeyTypeInfo& infoFor(KeyType type) {
  for (const auto& i : kKeyTypes) {
    if (i.type == type) {
      return i;
    }
  }
  LANYARD_ASSERT(false, "every KeyType has a row in kKeyTypes");
  return kKeyTypes[0];
}

Result<ossl::UniquePtr<EVP_PKEY>> generateWith(EVP_PKEY_CTX* ctx) {
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx, &raw) <= 0) {
    return ossl::fail("generating key");
  }
  return ossl::UniquePtr<EVP_PKEY>(raw);
}

// A keygen context set up once per thread: reusing it doubles P-256 keygen throughput
// (DESIGN.md §7). EVP_PKEY_CTX is not thread-safe, so one per thread.
Result<ossl::UniquePtr<EVP_PKEY>> generateP256() {
  thread_local ossl::UniquePtr<EVP_PKEY_CTX> ctx;
  if (!ctx) {
    ossl::UniquePtr<EVP_PKEY_CTX> c(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!c || EVP_PKEY_keygen_init(c.get()) <= 0 ||
        EVP_PKEY_CTX_set_group_name(c.get(), "P-256") <= 0) {
      return ossl::fail("preparing P-256 key generation");
    }
    ctx = std::move(c);
  }
  return generateWith(ctx.get());
}

Result<std::string> encodeKey(const EVP_PKEY* key, const char* format, int selection,
                              const char* what) {
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  OSSL_ENCODER_CTX* ectx = OSSL_ENCODER_CTX_new_for_pkey(
      key, selection, format,
      selection == OSSL_KEYMGMT_SELECT_PUBLIC_KEY ? "SubjectPublicKeyInfo" : "PrivateKeyInfo",
      nullptr);
  bool ok = bio && ectx != nullptr && OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0 &&
            OSSL_ENCODER_to_bio(ectx, bio.get()) > 0;
  OSSL_ENCODER_CTX_free(ectx);
  if (!ok) {
    return ossl::fail(what);
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<size_t>(len));
  // The BIO held key bytes: wipe them before it is freed.
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return out;
}

Result<ossl::UniquePtr<EVP_PKEY>> decodeKey(std::string_view data, const char* format,
                                            const char* what) {
  EVP_PKEY* raw = nullptr;
  OSSL_DECODER_CTX* dctx = OSSL_DECODER_CTX_new_for_pkey(
      &raw, format, nullptr, nullptr, OSSL_KEYMGMT_SELECT_PRIVATE_KEY, nullptr, nullptr);
  if (dctx == nullptr) {
    return ossl::fail(what, Code::InvalidArgument);
  }
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t len = data.size();
  int ok = OSSL_DECODER_from_data(dctx, &p, &len);
  OSSL_DECODER_CTX_free(dctx);
  if (ok <= 0 || raw == nullptr) {
    EVP_PKEY_free(raw);
    return ossl::fail(what, Code::InvalidArgument);
  }
  ossl::UniquePtr<EVP_PKEY> key(raw);
  // Only the types we can use: a key we cannot classify is as bad as a corrupt one.
  if (auto t = keyTypeOf(key.get()); !t) {
    return fail(t.error().wrap(what));
  }
  return key;
}

// PKCS#8 PrivateKeyInfo for an EC P-256 key (RFC 5208, RFC 5915), exactly as OpenSSL's encoder
// writes it: the ECPrivateKey omits the curve (it is in the AlgorithmIdentifier) and carries the
// public point. Building it from this template takes ~1 us where OSSL_ENCODER takes ~145 us in
// OpenSSL 3.0, and every X.509-SVID response carries one (WAPI-10).
constexpr unsigned char kP256Pkcs8Prefix[] = {0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06,
                                              0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                                              0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                                              0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20};
constexpr unsigned char kP256Pkcs8Middle[] = {0xa1, 0x44, 0x03, 0x42, 0x00};
constexpr size_t kP256Pkcs8Size = sizeof(kP256Pkcs8Prefix) + 32 + sizeof(kP256Pkcs8Middle) + 65;

}  // namespace

const char* keyTypeName(KeyType type) { return infoFor(type).name; }

Result<KeyType> keyTypeFromName(std::string_view name) {
  for (const auto& i : kKeyTypes) {
    if (name == i.name) {
      return i.type;
    }
  }
  return fail(Code::InvalidArgument,
              "parsing key type \"" + std::string(name) +
                  "\": want one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096");
}

bool isEc(KeyType type) { return infoFor(type).curve != nullptr; }

Result<KeyType> keyTypeOf(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) <= 0) {
      return ossl::fail("reading key curve", Code::InvalidArgument);
    }
    std::string_view g(group, len);
    if (g == "prime256v1" || g == "P-256") {
      return KeyType::EcP256;
    }
    if (g == "secp384r1" || g == "P-384") {
      return KeyType::EcP384;
    }
    return fail(Code::InvalidArgument,
                "checking key: unsupported curve " + std::string(g) + " (want P-256 or P-384)");
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048:
        return KeyType::Rsa2048;
      case 3072:
        return KeyType::Rsa3072;
      case 4096:
        return KeyType::Rsa4096;
      default:
        return fail(Code::InvalidArgument, "checking key: unsupported RSA size " +
                                               std::to_string(EVP_PKEY_get_bits(key)) +
                                               " bits (want 2048, 3072 or 4096)");
    }
  }
  return fail(Code::InvalidArgument, std::string("checking key: unsupported key type ") +
                                         EVP_PKEY_get0_type_name(key) + " (want EC or RSA)");
}

Result<ossl::UniquePtr<EVP_PKEY>> generateKey(KeyType type) {
  if (type == KeyType::EcP256) {
    return generateP256();
  }
  const KeyTypeInfo& info = infoFor(type);
  ossl::UniquePtr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, info.curve != nullptr ? "EC" : "RSA", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) {
    return ossl::fail("preparing key generation");
  }
  int set = info.curve != nullptr
                ? EVP_PKEY_CTX_set_group_name(ctx.get(), info.curve)
                : EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(info.bits));
  if (set <= 0) {
    return ossl::fail(std::string("preparing ") + info.name + " key generation");
  }
  return generateWith(ctx.get());
}

Result<std::string> privateKeyToPem(const EVP_PKEY* key) {
  return encodeKey(key, "PEM", OSSL_KEYMGMT_SELECT_ALL, "encoding private key as PEM");
}

Result<std::string> ecPublicPoint(const EVP_PKEY* key) {
  unsigned char point[133];  // uncompressed P-521 is the largest
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point),
                                      &len) != 1 ||
      len == 0 || point[0] != 0x04) {
    return ossl::fail("reading EC public point");
  }
  return std::string(reinterpret_cast<char*>(point), len);
}

Result<SecretBytes> p256PrivateKeyToDer(const EVP_PKEY* key, std::string_view point) {
  BIGNUM* priv = nullptr;
  if (point.size() != 65 || point[0] != 0x04 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1) {
    BN_clear_free(priv);
    return ossl::fail("encoding private key as PKCS#8 DER");
  }
  std::string out(kP256Pkcs8Size, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(p, kP256Pkcs8Prefix, sizeof(kP256Pkcs8Prefix));
  p += sizeof(kP256Pkcs8Prefix);
  int ok = BN_bn2binpad(priv, p, 32);
  BN_clear_free(priv);
  if (ok != 32) {
    OPENSSL_cleanse(out.data(), out.size());
    return ossl::fail("encoding private key as PKCS#8 DER");
  }
  p += 32;
  std::memcpy(p, kP256Pkcs8Middle, sizeof(kP256Pkcs8Middle));
  p += sizeof(kP256Pkcs8Middle);
  std::memcpy(p, point.data(), point.size());
  return SecretBytes(std::move(out));  // moves the heap buffer: no copy is left behind
}

Result<std::string> privateKeyToDer(const EVP_PKEY* key) {
  if (auto type = keyTypeOf(key); type && *type == KeyType::EcP256) {
    LANYARD_TRY(std::string point, ecPublicPoint(key));
    LANYARD_TRY(SecretBytes der, p256PrivateKeyToDer(key, point));
    return der.str();
  }
  return encodeKey(key, "DER", OSSL_KEYMGMT_SELECT_ALL, "encoding private key as PKCS#8 DER");
}

Result<std::string> publicKeyToDer(const EVP_PKEY* key) {
  return encodeKey(key, "DER", OSSL_KEYMGMT_SELECT_PUBLIC_KEY, "encoding public key as DER");
}

Result<ossl::UniquePtr<EVP_PKEY>> privateKeyFromPem(std::string_view pem) {
  return decodeKey(pem, "PEM", "parsing PEM private key");
}

Result<ossl::UniquePtr<EVP_PKEY>> privateKeyFromDer(std::string_view der) {
  // Only PKCS#8 PrivateKeyInfo, with nothing after it, as go-spiffe requires of x509_svid_key
  // (X509-10); the OpenSSL decoder alone would also take SEC1 and PKCS#1.
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::UniquePtr<PKCS8_PRIV_KEY_INFO> p8(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (!p8 || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return ossl::fail("parsing DER private key: not a PKCS#8 PrivateKeyInfo",
                      Code::InvalidArgument);
  }
  ossl::UniquePtr<EVP_PKEY> key(EVP_PKCS82PKEY(p8.get()));
  if (!key) {
    return ossl::fail("parsing DER private key", Code::InvalidArgument);
  }
  if (auto t = keyTypeOf(key.get()); !t) {
    return fail(t.error().wrap("parsing DER private key"));
  }
  return key;
}

}  // namespace lanyard::svid
