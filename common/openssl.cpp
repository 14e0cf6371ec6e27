// SPDX-License-Identifier: Apache-2.0
// OpenSSL error-queue conversion and reference helpers.
#include "common/openssl.h"

#include <string>

#include <openssl/err.h>

namespace lanyard::ossl {

Error error(std::string_view doing, Code code) {
  std::string reasons;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!reasons.empty()) {
      reasons += "; ";
    }
    // Keep only the reason part ("error:CODE:lib:func:reason" -> reason).
    std::string_view s(buf);
    if (auto pos = s.rfind(':'); pos != std::string_view::npos && pos + 1 < s.size()) {
      s.remove_prefix(pos + 1);
    }
    reasons += s;
  }
  if (reasons.empty()) {
    reasons = "openssl reported no reason";
  }
  return Error{code, std::string(doing) + ": " + reasons};
}

UniquePtr<X509> upRef(X509* cert) {
  X509_up_ref(cert);
  return UniquePtr<X509>(cert);
}

UniquePtr<EVP_PKEY> upRef(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return UniquePtr<EVP_PKEY>(key);
}

}  // namespace lanyard::ossl
