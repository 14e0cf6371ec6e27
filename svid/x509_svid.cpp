// SPDX-License-Identifier: Apache-2.0
// X.509-SVID minting, parsing and verification.
#include "svid/x509_svid.h"

#include <algorithm>

#include <openssl/x509_vfy.h>

#include "svid/ca_certificate.h"
#include "svid/x509_fields.h"

namespace lanyard::svid {
namespace {

namespace f = x509fields;

// SPIRE back-dates leaves so that peers with a slightly slow clock accept them (X509-12).
constexpr Seconds kBackdate{10};

bool isCa(X509* cert) { return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0; }

bool hasKeyUsage(X509* cert, uint32_t bits) {
  return (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0 &&
         (X509_get_key_usage(cert) & bits) == bits;
}

bool hasAnyKeyUsage(X509* cert, uint32_t bits) {
  return (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0 &&
         (X509_get_key_usage(cert) & bits) != 0;
}

// Leaf rules shared by ParseRaw and Verify (X509-8, X509-9, X509-10).
Result<SpiffeId> checkLeaf(X509* leaf, const char* doing) {
  auto id = spiffeIdFromCertificate(leaf);
  if (!id) {
    return fail(id.error().wrap(doing));
  }
  auto bad = [&](const std::string& what) {
    return fail(Code::InvalidArgument, doing + (": " + what));
  };
  if (id->isRoot()) {
    return bad("leaf SPIFFE ID " + id->str() + " has no path (X509-2)");
  }
  if (isCa(leaf)) {
    return bad("leaf certificate is a CA (X509-5)");
  }
  if (!hasKeyUsage(leaf, X509v3_KU_DIGITAL_SIGNATURE)) {
    return bad("leaf certificate lacks the digitalSignature key usage (X509-4)");
  }
  if (hasAnyKeyUsage(leaf, X509v3_KU_KEY_CERT_SIGN)) {
    return bad("leaf certificate has the keyCertSign key usage (X509-4)");
  }
  if (hasAnyKeyUsage(leaf, X509v3_KU_CRL_SIGN)) {
    return bad("leaf certificate has the cRLSign key usage (X509-4)");
  }
  return id;
}

}  // namespace

Result<std::vector<ossl::UniquePtr<X509>>> X509Svid::certificates() const {
  return parseDerCertificates(der);
}

Result<std::string> X509Svid::chainPem() const {
  LANYARD_TRY(auto certs, certificates());
  std::string out;
  for (const auto& c : certs) {
    LANYARD_TRY(std::string pem, certificateToPem(c.get()));
    out += pem;
  }
  return out;
}

Result<std::unique_ptr<X509SvidIssuer>> X509SvidIssuer::create(
    ossl::UniquePtr<X509> ca, ossl::UniquePtr<EVP_PKEY> caKey,
    std::vector<ossl::UniquePtr<X509>> intermediates) {
  const char* doing = "preparing X.509-SVID issuer";
  if (!isCa(ca.get()) || !hasKeyUsage(ca.get(), X509v3_KU_KEY_CERT_SIGN)) {
    return fail(Code::FailedPrecondition,
                std::string(doing) + ": signing certificate is not a CA with keyCertSign");
  }
  if (!keyMatchesCertificate(ca.get(), caKey.get())) {
    return fail(Code::FailedPrecondition,
                std::string(doing) + ": CA key does not match the CA certificate");
  }
  auto caId = spiffeIdFromCertificate(ca.get());
  if (!caId) {
    return fail(caId.error().wrap(doing));
  }
  LANYARD_TRY(std::string aki, f::authorityKeyIdFor(ca.get()));
  LANYARD_TRY(auto bc, f::basicConstraints(false, -1));
  LANYARD_TRY(auto ku, f::keyUsage(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT));
  LANYARD_TRY(auto eku, f::extKeyUsageServerClient());
  LANYARD_TRY(auto akiExt, f::authorityKeyId(aki));
  LANYARD_TRY(
      LeafTemplate leaf,
      LeafTemplate::create(ca.get(), caKey.get(), {bc.get(), ku.get(), eku.get(), akiExt.get()}));
  std::unique_ptr<X509SvidIssuer> issuer(new X509SvidIssuer(caId->trustDomain(), std::move(leaf)));
  issuer->caNotBefore_ = f::notBefore(ca.get());
  issuer->caNotAfter_ = f::notAfter(ca.get());
  // X509-13: a self-signed CA is a trust anchor and lives only in the bundle.
  if (!isSelfSigned(ca.get())) {
    LANYARD_TRY(std::string der, certificateToDer(ca.get()));
    issuer->chainTail_ += der;
  }
  for (const auto& c : intermediates) {
    LANYARD_TRY(std::string der, certificateToDer(c.get()));
    issuer->chainTail_ += der;
  }
  issuer->ca_ = std::move(ca);
  return issuer;
}

namespace {

Result<void> validateDnsName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 253;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '*' || c == '_');
  }
  if (!ok) {
    return fail(Code::InvalidArgument, "minting X.509-SVID: DNS name \"" + std::string(name) +
                                           "\" is not a valid host name");
  }
  return {};
}

}  // namespace

Result<X509Svid> X509SvidIssuer::mint(const SpiffeId& id, const X509SvidParams& params,
                                      SysTime now) const {
  const char* doing = "minting X.509-SVID";
  if (id.isRoot()) {
    return fail(Code::InvalidArgument, std::string(doing) + " for " + id.str() +
                                           ": a leaf needs a non-root path (X509-2)");
  }
  if (id.trustDomain() != td_) {
    return fail(Code::InvalidArgument, std::string(doing) + " for " + id.str() +
                                           ": not in the CA's trust domain " + td_.name());
  }
  if (params.ttl <= Seconds(0)) {
    return fail(Code::InvalidArgument, std::string(doing) + ": ttl must be positive");
  }
  for (const auto& d : params.dnsNames) {
    LANYARD_TRY_VOID(validateDnsName(d));
  }
  // An SVID never outlives its CA (X509-12).
  SysTime notAfter = std::min(now + params.ttl, caNotAfter_);
  SysTime notBefore = std::max(now - kBackdate, caNotBefore_);
  if (notAfter <= now) {
    return fail(Code::FailedPrecondition, std::string(doing) + ": the signing CA has expired");
  }
  if (notBefore > now) {
    // The clock went back past the CA's start: Go would reject the leaf as not yet valid.
    return fail(Code::FailedPrecondition,
                std::string(doing) + ": the signing CA is not valid yet (clock went backwards?)");
  }
  LANYARD_TRY(auto key, generateKey(params.keyType));
  // The Workload API needs the PKCS#8 key too (WAPI-10): encode it now, reading the public
  // point once for both encodings.
  std::string point;
  SecretBytes keyDer;
  if (params.keyType == KeyType::EcP256) {
    LANYARD_TRY(point, ecPublicPoint(key.get()));
    LANYARD_TRY(keyDer, p256PrivateKeyToDer(key.get(), point));
  } else {
    LANYARD_TRY(std::string der, privateKeyToDer(key.get()));
    keyDer = SecretBytes(std::move(der));
  }
  LANYARD_TRY(std::string der,
              leaf_.encode(key.get(), point, id.str(), params.dnsNames, notBefore, notAfter));
  der += chainTail_;
  return X509Svid{id, std::move(der), std::move(key), std::move(keyDer), notBefore, notAfter};
}

Result<SpiffeId> spiffeIdFromCertificate(X509* cert) {
  const char* doing = "reading SPIFFE ID from certificate";
  int crit = 0;
  ossl::UniquePtr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  if (!names) {
    return fail(Code::InvalidArgument,
                std::string(doing) + (crit == -2 ? ": duplicate subjectAltName extensions"
                                                 : ": no subjectAltName extension"));
  }
  const ASN1_STRING* uri = nullptr;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    int type = 0;
    auto* value = static_cast<ASN1_STRING*>(
        GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(names.get(), i), &type));
    if (type != GEN_URI) {
      continue;
    }
    if (uri != nullptr) {
      return fail(Code::InvalidArgument, std::string(doing) + ": more than one URI SAN (X509-1)");
    }
    uri = value;
  }
  if (uri == nullptr) {
    return fail(Code::InvalidArgument, std::string(doing) + ": no URI SAN (X509-1)");
  }
  std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                        static_cast<size_t>(ASN1_STRING_length(uri)));
  auto id = SpiffeId::parse(text);
  if (!id) {
    return fail(id.error().wrap(doing));
  }
  return id;
}

Result<X509Svid> parseX509Svid(std::string_view chainDer, std::string_view keyDer) {
  const char* doing = "parsing X.509-SVID";
  auto certs = parseDerCertificates(chainDer);
  if (!certs) {
    return fail(certs.error().wrap(doing));
  }
  if (certs->empty()) {
    return fail(Code::InvalidArgument, std::string(doing) + ": empty certificate chain");
  }
  auto key = privateKeyFromDer(keyDer);
  if (!key) {
    return fail(key.error().wrap(doing));
  }
  X509* leaf = (*certs)[0].get();
  LANYARD_TRY(SpiffeId id, checkLeaf(leaf, doing));
  for (size_t i = 1; i < certs->size(); ++i) {
    X509* c = (*certs)[i].get();
    if (!isCa(c) || !hasKeyUsage(c, X509v3_KU_KEY_CERT_SIGN)) {
      return fail(Code::InvalidArgument, std::string(doing) + ": chain certificate " +
                                             std::to_string(i) +
                                             " is not a CA with keyCertSign (X509-10)");
    }
  }
  if (!keyMatchesCertificate(leaf, key->get())) {
    return fail(Code::InvalidArgument,
                std::string(doing) + ": private key does not match the leaf certificate");
  }
  SysTime nb = f::notBefore(leaf);
  SysTime na = f::notAfter(leaf);
  return X509Svid{std::move(id),
                  std::string(chainDer),
                  std::move(*key),
                  SecretBytes(std::string(keyDer)),
                  nb,
                  na};
}

Result<SpiffeId> verifyX509Svid(const std::vector<X509*>& chain, const BundleMap& bundles,
                                SysTime now) {
  const char* doing = "verifying X.509-SVID";
  if (chain.empty()) {
    return fail(Code::InvalidArgument, std::string(doing) + ": empty certificate chain");
  }
  X509* leaf = chain[0];
  LANYARD_TRY(SpiffeId id, checkLeaf(leaf, doing));
  // X509-8: only the bundle of the leaf's own trust domain; never a pool of several.
  auto it = bundles.find(id.trustDomain());
  if (it == bundles.end() || !it->second) {
    return fail(Code::PermissionDenied,
                std::string(doing) + ": no bundle for trust domain " + id.trustDomain().name());
  }
  ossl::UniquePtr<X509_STORE> store(X509_STORE_new());
  ossl::X509Stack untrusted(sk_X509_new_null());
  ossl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) {
    return ossl::fail(doing);
  }
  for (const auto& ca : it->second->x509Authorities()) {
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {  // up-refs
      return ossl::fail(doing);
    }
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    // sk_X509_push does not take a reference: the stack's deleter frees, so up-ref first.
    if (sk_X509_push(untrusted.get(), ossl::upRef(chain[i]).release()) == 0) {
      return ossl::fail(doing);
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get()) != 1) {
    return ossl::fail(doing);
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(unixSeconds(now)));
  // Bundle authorities are anchors even when they are not self-signed (SPIFFE bundles may hold
  // intermediates).
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    return fail(Code::InvalidArgument,
                std::string(doing) + " " + id.str() + ": " + X509_verify_cert_error_string(err));
  }
  return id;
}

Result<SpiffeId> verifyX509Svid(std::string_view chainDer, const BundleMap& bundles, SysTime now) {
  auto certs = parseDerCertificates(chainDer);
  if (!certs) {
    return fail(certs.error().wrap("verifying X.509-SVID"));
  }
  std::vector<X509*> raw;
  for (const auto& c : *certs) {
    raw.push_back(c.get());
  }
  return verifyX509Svid(raw, bundles, now);
}

}  // namespace lanyard::svid
