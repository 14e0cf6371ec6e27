// SPDX-License-Identifier: Apache-2.0
// RAII ownership for OpenSSL objects and conversion of OpenSSL's error queue into Error.
#pragma once

#include <memory>
#include <string_view>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/result.h"

namespace lanyard::ossl {

/// One deleter specialisation per OpenSSL type (BoringSSL base.h pattern).
template <typename T>
struct Deleter;

#define LANYARD_OSSL_DELETER(type, fn)        \
  template <>                                 \
  struct Deleter<type> {                      \
    void operator()(type* p) const { fn(p); } \
  }

LANYARD_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
LANYARD_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
LANYARD_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
LANYARD_OSSL_DELETER(EVP_MD, EVP_MD_free);
LANYARD_OSSL_DELETER(X509, X509_free);
LANYARD_OSSL_DELETER(X509_REQ, X509_REQ_free);
LANYARD_OSSL_DELETER(X509_NAME, X509_NAME_free);
LANYARD_OSSL_DELETER(X509_STORE, X509_STORE_free);
LANYARD_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
LANYARD_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
LANYARD_OSSL_DELETER(BIO, BIO_free_all);
LANYARD_OSSL_DELETER(BIGNUM, BN_free);
LANYARD_OSSL_DELETER(OSSL_PARAM, OSSL_PARAM_free);
LANYARD_OSSL_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
// ASN1_INTEGER, ASN1_OCTET_STRING, ASN1_BIT_STRING and ASN1_TIME are all ASN1_STRING.
LANYARD_OSSL_DELETER(ASN1_STRING, ASN1_STRING_free);
LANYARD_OSSL_DELETER(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free);
LANYARD_OSSL_DELETER(AUTHORITY_KEYID, AUTHORITY_KEYID_free);
LANYARD_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free);
LANYARD_OSSL_DELETER(EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free);
LANYARD_OSSL_DELETER(ECDSA_SIG, ECDSA_SIG_free);
LANYARD_OSSL_DELETER(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free);
LANYARD_OSSL_DELETER(X509_PUBKEY, X509_PUBKEY_free);
LANYARD_OSSL_DELETER(OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free);

#undef LANYARD_OSSL_DELETER

template <typename T>
using UniquePtr = std::unique_ptr<T, Deleter<T>>;

/// Owning stack of X509 (frees each certificate, then the stack).
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

/// Drains OpenSSL's error queue into an Error: "<doing>: <openssl reasons>".
Error error(std::string_view doing, Code code = Code::Internal);

/// Same, wrapped for returning from a function that yields Result<T>.
inline Unexpected fail(std::string_view doing, Code code = Code::Internal) {
  return Unexpected{error(doing, code)};
}

/// Returns a new reference to `cert` (X509_up_ref), for storing a borrowed certificate.
UniquePtr<X509> upRef(X509* cert);

/// Returns a new reference to `key` (EVP_PKEY_up_ref).
UniquePtr<EVP_PKEY> upRef(EVP_PKEY* key);

}  // namespace lanyard::ossl
