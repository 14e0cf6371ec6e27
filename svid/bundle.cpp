// SPDX-License-Identifier: Apache-2.0
// Bundle contents, its SPIFFE/JWKS/DER/PEM encodings, and strict parsing (BUNDLE-1 … BUNDLE-10).
#include "svid/bundle.h"

#include <array>
#include <limits>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "svid/encoding.h"
#include "svid/json_depth.h"
#include "svid/jwk.h"

namespace lanyard::svid {
namespace {

using nlohmann::json;

constexpr const char* kX509SvidUse = "x509-svid";
constexpr const char* kJwtSvidUse = "jwt-svid";
// Deeper JSON than this is never a bundle; refusing it early bounds recursion in later copies.
constexpr int kMaxJsonDepth = 32;

Unexpected invalid(std::string_view doing, std::string what) {
  return fail(Code::InvalidArgument, std::string(doing) + ": " + std::move(what));
}

/// Parses a JSON object without letting nlohmann's exceptions escape.
Result<json> parseObject(std::string_view doing, std::string_view text) {
  if (!jsonDepthWithin(text, kMaxJsonDepth)) {
    return invalid(doing, "JSON nests too deeply");
  }
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    return invalid(doing, "malformed JSON");
  }
  if (doc.is_discarded()) {
    return invalid(doing, "malformed JSON");
  }
  if (!doc.is_object()) {
    return invalid(doing, "not a JSON object");
  }
  return doc;
}

/// An optional string member: absent or null gives "", any other non-string is an error (as
/// Go's encoding/json fails on a type mismatch).
Result<std::string> optionalString(std::string_view doing, const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return invalid(doing, std::string("\"") + name + "\" is not a string");
  }
  return it->get<std::string>();
}

std::string digestOf(const std::string& der, const EVP_MD* md) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_Digest(der.data(), der.size(), out.data(), &len, md, nullptr) != 1) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

/// Checks an optional certificate thumbprint member against the leaf (go-jose jwk.go).
Result<void> checkThumbprint(std::string_view doing, const json& jwk, const char* name,
                             const EVP_MD* md, const std::vector<std::string>& certDers) {
  LANYARD_TRY(std::string text, optionalString(doing, jwk, name));
  if (text.empty()) {
    return {};
  }
  auto raw = base64UrlDecode(text);
  if (!raw || raw->size() != static_cast<size_t>(EVP_MD_get_size(md))) {
    return invalid(doing, std::string("\"") + name + "\" is not a valid thumbprint");
  }
  if (!certDers.empty() && *raw != digestOf(certDers.front(), md)) {
    return invalid(doing, std::string("\"") + name + "\" does not match the certificate");
  }
  return {};
}

/// One parsed JWK of a JWK Set, before its `use` decides what it becomes.
struct ParsedJwk {
  std::string use;
  std::string kid;
  ossl::UniquePtr<EVP_PKEY> key;
  std::vector<ossl::UniquePtr<X509>> certs;
};

/// Parses one JWK as go-jose does: typed members, key members, x5c matching the key members.
Result<ParsedJwk> parseJwk(std::string_view doing, const json& jwk) {
  if (!jwk.is_object()) {
    return invalid(doing, "key entry is not a JSON object");
  }
  ParsedJwk out;
  LANYARD_TRY(out.use, optionalString(doing, jwk, "use"));
  LANYARD_TRY(out.kid, optionalString(doing, jwk, "kid"));
  LANYARD_TRY(std::string alg, optionalString(doing, jwk, "alg"));
  auto key = publicKeyFromJwk(jwk);
  if (!key) {
    return Unexpected{key.error().wrap(doing)};
  }
  out.key = std::move(key).value();
  std::vector<std::string> certDers;
  auto x5c = jwk.find("x5c");
  if (x5c != jwk.end() && !x5c->is_null()) {
    if (!x5c->is_array()) {
      return invalid(doing, "\"x5c\" is not an array");
    }
    for (const json& entry : *x5c) {
      if (!entry.is_string()) {
        return invalid(doing, "\"x5c\" entry is not a string");
      }
      auto der = base64Decode(entry.get_ref<const std::string&>());
      if (!der) {
        return invalid(doing, "\"x5c\" entry is not padded standard base64");
      }
      auto certs = parseDerCertificates(*der);
      if (!certs || certs->size() != 1) {
        return invalid(doing, "\"x5c\" entry is not one DER certificate");
      }
      out.certs.push_back(std::move(certs->front()));
      certDers.push_back(std::move(der).value());
    }
  }
  if (!out.certs.empty()) {
    // go-jose fails on a key/cert mismatch (BUNDLE-5); the certificate's key must also be one
    // we can encode again.
    const EVP_PKEY* certKey = X509_get0_pubkey(out.certs.front().get());
    if (certKey == nullptr || EVP_PKEY_eq(certKey, out.key.get()) != 1 ||
        !publicKeyToJwk(certKey)) {
      ERR_clear_error();
      return invalid(doing, "\"x5c\" certificate does not match the key members");
    }
  }
  LANYARD_TRY_VOID(checkThumbprint(doing, jwk, "x5t", EVP_sha1(), certDers));
  LANYARD_TRY_VOID(checkThumbprint(doing, jwk, "x5t#S256", EVP_sha256(), certDers));
  return out;
}

/// Reads the `keys` array of a JWK Set; null when absent or null.
Result<const json*> keysOf(std::string_view doing, const json& doc) {
  auto it = doc.find("keys");
  if (it == doc.end() || it->is_null()) {
    return static_cast<const json*>(nullptr);
  }
  if (!it->is_array()) {
    return invalid(doing, "\"keys\" is not an array");
  }
  return &*it;
}

Result<void> readSpiffeMembers(std::string_view doing, const json& doc, Bundle& bundle) {
  // BUNDLE-2: an unsigned 64-bit integer, as go-spiffe parses it.
  auto seq = doc.find("spiffe_sequence");
  if (seq != doc.end() && !seq->is_null()) {
    if (!seq->is_number_integer() || (!seq->is_number_unsigned() && seq->get<int64_t>() < 0)) {
      return invalid(doing, "\"spiffe_sequence\" is not an unsigned 64-bit integer");
    }
    bundle.setSequence(seq->get<uint64_t>());
  }
  // BUNDLE-3: seconds as a signed 64-bit integer; a negative hint means nothing, refuse it.
  auto hint = doc.find("spiffe_refresh_hint");
  if (hint != doc.end() && !hint->is_null()) {
    if (!hint->is_number_integer() ||
        (hint->is_number_unsigned() &&
         hint->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) ||
        (!hint->is_number_unsigned() && hint->get<int64_t>() < 0)) {
      return invalid(doing, "\"spiffe_refresh_hint\" is not a non-negative 64-bit integer");
    }
    bundle.setRefreshHintSeconds(hint->get<int64_t>());
  }
  return {};
}

std::string entryContext(std::string_view doing, size_t i) {
  return std::string(doing) + ": key " + std::to_string(i);
}

Result<std::string> dumpJson(std::string_view doing, const json& doc) {
  try {
    return doc.dump();
  } catch (const std::exception&) {
    return fail(Code::InvalidArgument, std::string(doing) + ": a member is not valid UTF-8");
  }
}

}  // namespace

Result<void> Bundle::addX509Authority(X509* cert) {
  if (cert == nullptr) {
    return fail(Code::InvalidArgument, "adding X.509 authority: no certificate");
  }
  for (const auto& existing : x509_) {
    if (X509_cmp(existing.get(), cert) == 0) {
      return {};
    }
  }
  x509_.push_back(ossl::upRef(cert));
  return {};
}

Result<void> Bundle::addJwtAuthority(std::string kid, EVP_PKEY* key) {
  if (key == nullptr) {
    return fail(Code::InvalidArgument, "adding JWT authority: no key");
  }
  if (kid.empty()) {
    return fail(Code::InvalidArgument, "adding JWT authority: empty key ID");
  }
  if (findJwtAuthority(kid) != nullptr) {
    return fail(Code::AlreadyExists, "adding JWT authority: key ID already present");
  }
  jwt_.push_back(JwtAuthority{std::move(kid), ossl::upRef(key)});
  return {};
}

const EVP_PKEY* Bundle::findJwtAuthority(std::string_view kid) const {
  for (const auto& a : jwt_) {
    if (a.kid == kid) {
      return a.key.get();
    }
  }
  return nullptr;
}

std::string Bundle::x509Der() const {
  std::string out;
  for (const auto& cert : x509_) {
    auto der = certificateToDer(cert.get());
    if (der) {
      out += *der;
    }
  }
  return out;
}

std::string Bundle::x509Pem() const {
  std::string out;
  for (const auto& cert : x509_) {
    auto pem = certificateToPem(cert.get());
    if (pem) {
      out += *pem;
    }
  }
  return out;
}

Result<std::string> Bundle::jwtBundleJson() const {
  constexpr std::string_view kDoing = "encoding JWT bundle";
  json keys = json::array();
  for (const auto& a : jwt_) {
    auto jwk = publicKeyToJwk(a.key.get());
    if (!jwk) {
      return Unexpected{jwk.error().wrap(kDoing)};
    }
    (*jwk)["kid"] = a.kid;
    keys.push_back(std::move(jwk).value());
  }
  return dumpJson(kDoing, json{{"keys", std::move(keys)}});
}

Result<std::string> Bundle::toSpiffeJson() const {
  constexpr std::string_view kDoing = "encoding SPIFFE bundle";
  json keys = json::array();
  for (const auto& cert : x509_) {
    auto jwk = publicKeyToJwk(X509_get0_pubkey(cert.get()));
    if (!jwk) {
      return Unexpected{jwk.error().wrap(kDoing)};
    }
    LANYARD_TRY(std::string der, certificateToDer(cert.get()));
    (*jwk)["use"] = kX509SvidUse;
    (*jwk)["x5c"] = json::array({base64Encode(der)});
    keys.push_back(std::move(jwk).value());
  }
  for (const auto& a : jwt_) {
    auto jwk = publicKeyToJwk(a.key.get());
    if (!jwk) {
      return Unexpected{jwk.error().wrap(kDoing)};
    }
    (*jwk)["use"] = kJwtSvidUse;
    (*jwk)["kid"] = a.kid;
    keys.push_back(std::move(jwk).value());
  }
  json doc{{"keys", std::move(keys)}};
  if (sequence_) {
    doc["spiffe_sequence"] = *sequence_;
  }
  if (refreshHint_) {
    doc["spiffe_refresh_hint"] = *refreshHint_;
  }
  return dumpJson(kDoing, doc);
}

Result<Bundle> Bundle::parseSpiffeJson(const TrustDomain& td, std::string_view text) {
  const std::string doing = "parsing SPIFFE bundle for " + td.name();
  LANYARD_TRY(json doc, parseObject(doing, text));
  Bundle bundle(td);
  LANYARD_TRY_VOID(readSpiffeMembers(doing, doc, bundle));
  LANYARD_TRY(const json* keys, keysOf(doing, doc));
  if (keys == nullptr) {
    // BUNDLE-1: `keys` MUST be present; go-spiffe fails the parse.
    return invalid(doing, "missing \"keys\"");
  }
  for (size_t i = 0; i < keys->size(); ++i) {
    const std::string entry = entryContext(doing, i);
    // Every entry must be a valid JWK, whatever its use: go-jose fails the whole set.
    LANYARD_TRY(ParsedJwk jwk, parseJwk(entry, (*keys)[i]));
    if (jwk.use == kX509SvidUse) {
      // BUNDLE-5: go-spiffe wants exactly one certificate.
      if (jwk.certs.size() != 1) {
        return invalid(entry, "x509-svid key needs exactly one \"x5c\" certificate, got " +
                                  std::to_string(jwk.certs.size()));
      }
      LANYARD_TRY_VOID(bundle.addX509Authority(jwk.certs.front().get()));
    } else if (jwk.use == kJwtSvidUse) {
      // BUNDLE-6: a non-empty kid, unique within the bundle.
      auto added = bundle.addJwtAuthority(std::move(jwk.kid), jwk.key.get());
      if (!added) {
        return invalid(entry, added.error().message);
      }
    }
    // BUNDLE-4: any other use is skipped.
  }
  return bundle;
}

Result<Bundle> Bundle::parseJwtBundleJson(const TrustDomain& td, std::string_view text) {
  const std::string doing = "parsing JWT bundle for " + td.name();
  LANYARD_TRY(json doc, parseObject(doing, text));
  Bundle bundle(td);
  LANYARD_TRY(const json* keys, keysOf(doing, doc));
  if (keys == nullptr) {
    return bundle;  // go-spiffe's jwtbundle.Parse accepts a set without keys
  }
  for (size_t i = 0; i < keys->size(); ++i) {
    const std::string entry = entryContext(doing, i);
    LANYARD_TRY(ParsedJwk jwk, parseJwk(entry, (*keys)[i]));
    // BUNDLE-10: `use` is ignored, every key needs a unique kid.
    auto added = bundle.addJwtAuthority(std::move(jwk.kid), jwk.key.get());
    if (!added) {
      return invalid(entry, added.error().message);
    }
  }
  return bundle;
}

Result<Bundle> Bundle::parseX509Der(const TrustDomain& td, std::string_view der) {
  auto certs = parseDerCertificates(der);
  if (!certs) {
    return Unexpected{certs.error().wrap("parsing X.509 bundle for " + td.name())};
  }
  Bundle bundle(td);
  for (const auto& cert : *certs) {
    LANYARD_TRY_VOID(bundle.addX509Authority(cert.get()));
  }
  return bundle;
}

Result<Bundle> Bundle::parseX509Pem(const TrustDomain& td, std::string_view pem) {
  auto certs = parsePemCertificates(pem);
  if (!certs) {
    return Unexpected{certs.error().wrap("parsing X.509 bundle for " + td.name())};
  }
  Bundle bundle(td);
  for (const auto& cert : *certs) {
    LANYARD_TRY_VOID(bundle.addX509Authority(cert.get()));
  }
  return bundle;
}

bool Bundle::sameContent(const Bundle& other) const {
  if (td_ != other.td_ || sequence_ != other.sequence_ || refreshHint_ != other.refreshHint_ ||
      x509_.size() != other.x509_.size() || jwt_.size() != other.jwt_.size()) {
    return false;
  }
  for (const auto& cert : x509_) {
    bool found = false;
    for (const auto& theirs : other.x509_) {
      found = found || X509_cmp(cert.get(), theirs.get()) == 0;
    }
    if (!found) {
      return false;
    }
  }
  for (const auto& a : jwt_) {
    const EVP_PKEY* theirs = other.findJwtAuthority(a.kid);
    if (theirs == nullptr || EVP_PKEY_eq(a.key.get(), theirs) != 1) {
      ERR_clear_error();
      return false;
    }
  }
  return true;
}

Result<std::vector<ossl::UniquePtr<X509>>> parseDerCertificates(std::string_view der) {
  std::vector<ossl::UniquePtr<X509>> out;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* end = p + der.size();
  while (p < end) {
    ossl::UniquePtr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(end - p)));
    if (!cert) {
      ERR_clear_error();
      return fail(Code::InvalidArgument, "parsing DER certificates: certificate " +
                                             std::to_string(out.size() + 1) + " is malformed");
    }
    out.push_back(std::move(cert));
  }
  return out;
}

Result<std::vector<ossl::UniquePtr<X509>>> parsePemCertificates(std::string_view pem) {
  ERR_clear_error();
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return ossl::fail("parsing PEM certificates");
  }
  std::vector<ossl::UniquePtr<X509>> out;
  while (true) {
    ossl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      unsigned long err = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        break;  // no further certificate
      }
      return fail(Code::InvalidArgument, "parsing PEM certificates: certificate " +
                                             std::to_string(out.size() + 1) + " is malformed");
    }
    out.push_back(std::move(cert));
  }
  if (out.empty()) {
    return fail(Code::InvalidArgument, "parsing PEM certificates: no certificate in PEM");
  }
  return out;
}

Result<std::string> certificateToDer(const X509* cert) {
  unsigned char* der = nullptr;
  int len = cert != nullptr ? i2d_X509(cert, &der) : -1;
  if (len <= 0) {
    return ossl::fail("encoding certificate as DER");
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<std::string> certificateToPem(const X509* cert) {
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || cert == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return ossl::fail("encoding certificate as PEM");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace lanyard::svid
