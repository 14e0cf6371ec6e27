// SPDX-License-Identifier: Apache-2.0
// Direct DER encoding of X.509-SVID leaves (RFC 5280 §4.1) for one signing CA.
#include "svid/leaf_template.h"

#include <ctime>

#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "svid/der_writer.h"
#include "svid/x509_fields.h"

namespace lanyard::svid {
namespace {

// [0] EXPLICIT Version v3 (value 2).
constexpr std::string_view kVersion3("\xa0\x03\x02\x01\x02", 5);
// SubjectPublicKeyInfo prefix for id-ecPublicKey / prime256v1, up to the BIT STRING's
// unused-bits octet; the 65-byte uncompressed point follows.
constexpr std::string_view kP256SpkiPrefix(
    "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01"
    "\x07\x03\x42\x00",
    26);
constexpr std::string_view kOidSubjectKeyId("\x06\x03\x55\x1d\x0e", 5);
constexpr std::string_view kOidSubjectAltName("\x06\x03\x55\x1d\x11", 5);

template <typename T, int (*I2d)(const T*, unsigned char**)>
Result<std::string> toDer(const T* obj, const char* what) {
  unsigned char* buf = nullptr;
  int len = I2d(obj, &buf);
  if (len <= 0) {
    return ossl::fail(std::string("encoding ") + what);
  }
  std::string out(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
  OPENSSL_free(buf);
  return out;
}

// UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
std::string encodeTime(SysTime t) {
  time_t secs = static_cast<time_t>(unixSeconds(t));
  struct tm tm {};
  gmtime_r(&secs, &tm);
  int year = tm.tm_year + 1900;
  char buf[32];
  if (year >= 1950 && year < 2050) {
    std::snprintf(buf, sizeof(buf), "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return der::tlv(der::kUtcTime, buf);
  }
  std::snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return der::tlv(der::kGeneralizedTime, buf);
}

// The SubjectPublicKeyInfo and the subjectPublicKey bits (for the key identifier).
Result<std::pair<std::string, std::string>> encodePublicKey(EVP_PKEY* key,
                                                            std::string_view p256Point) {
  if (!p256Point.empty()) {
    std::string spki(kP256SpkiPrefix);
    spki.append(p256Point);
    return std::make_pair(std::move(spki), std::string(p256Point));
  }
  // Other key types are rare for leaves: let OpenSSL encode them.
  LANYARD_TRY(std::string spki, (toDer<EVP_PKEY, i2d_PUBKEY>(key, "public key")));
  const auto* p = reinterpret_cast<const unsigned char*>(spki.data());
  ossl::UniquePtr<X509_PUBKEY> pub(d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
  const unsigned char* bits = nullptr;
  int bitsLen = 0;
  if (!pub || X509_PUBKEY_get0_param(nullptr, &bits, &bitsLen, nullptr, pub.get()) != 1) {
    return ossl::fail("encoding public key");
  }
  return std::make_pair(std::move(spki), std::string(reinterpret_cast<const char*>(bits), bitsLen));
}

}  // namespace

Result<LeafTemplate> LeafTemplate::create(X509* ca, EVP_PKEY* caKey,
                                          const std::vector<X509_EXTENSION*>& fixedExtensions) {
  LeafTemplate t;
  t.caKey_ = ossl::upRef(caKey);
  const EVP_MD* md = x509fields::digestFor(caKey);
  t.digest_ = EVP_MD_get0_name(md);
  // The AlgorithmIdentifier exactly as OpenSSL writes it for this key and digest: sign a
  // throwaway certificate once and copy it.
  ossl::UniquePtr<X509> probe(X509_new());
  if (!probe || X509_set_pubkey(probe.get(), caKey) != 1 ||
      X509_sign(probe.get(), caKey, md) <= 0) {
    return ossl::fail("preparing leaf template signature algorithm");
  }
  LANYARD_TRY(t.sigAlg_, (toDer<X509_ALGOR, i2d_X509_ALGOR>(X509_get0_tbs_sigalg(probe.get()),
                                                            "signature algorithm")));
  LANYARD_TRY(t.issuer_, (toDer<X509_NAME, i2d_X509_NAME>(X509_get_subject_name(ca), "issuer")));
  LANYARD_TRY(auto subject, x509fields::makeName({{"C", "US"}, {"O", "SPIFFE"}}));
  LANYARD_TRY(t.subject_, (toDer<X509_NAME, i2d_X509_NAME>(subject.get(), "subject")));
  for (X509_EXTENSION* ext : fixedExtensions) {
    LANYARD_TRY(std::string e, (toDer<X509_EXTENSION, i2d_X509_EXTENSION>(ext, "extension")));
    t.fixedExts_ += e;
  }
  return t;
}

Result<std::string> LeafTemplate::signTbs(const std::string& tbs) const {
  // EVP_MD_CTX is not thread-safe: one per thread, re-initialised for each signature.
  thread_local ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  unsigned char sig[1024];  // ECDSA P-384 DER ≤ 104 bytes, RSA-4096 = 512 bytes
  size_t len = sizeof(sig);
  // Reset when done, so the thread does not keep the CA key referenced after a rotation.
  struct Reset {
    EVP_MD_CTX* c;
    ~Reset() { EVP_MD_CTX_reset(c); }
  } reset{ctx.get()};
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, digest_.c_str(), nullptr, nullptr, caKey_.get(),
                            nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(tbs.data()),
                     tbs.size()) != 1) {
    return ossl::fail("signing X.509-SVID");
  }
  std::string bits(1, '\0');  // no unused bits
  bits.append(reinterpret_cast<char*>(sig), len);
  std::string body = tbs + sigAlg_;
  der::appendTlv(body, der::kBitString, bits);
  return der::tlv(der::kSequence, body);
}

Result<std::string> LeafTemplate::encode(EVP_PKEY* key, std::string_view p256Point,
                                         std::string_view uri,
                                         const std::vector<std::string>& dnsNames,
                                         SysTime notBefore, SysTime notAfter) const {
  // X509-11: positive serial of 16 octets with a non-zero top octet (126 random bits).
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return ossl::fail("generating certificate serial");
  }
  serial[0] = static_cast<unsigned char>((serial[0] & 0x3f) | 0x40);
  LANYARD_TRY(auto spki, encodePublicKey(key, p256Point));
  LANYARD_TRY(std::string keyId, x509fields::keyIdentifier(spki.second));

  std::string names;
  der::appendTlv(names, der::kSanUri, uri);
  for (const auto& d : dnsNames) {
    der::appendTlv(names, der::kSanDns, d);
  }
  std::string exts = fixedExts_;
  // SKI and SAN are not critical: the subject is non-empty (X509-3, X509-11).
  exts +=
      der::tlv(der::kSequence, std::string(kOidSubjectKeyId) +
                                   der::tlv(der::kOctetString, der::tlv(der::kOctetString, keyId)));
  exts +=
      der::tlv(der::kSequence, std::string(kOidSubjectAltName) +
                                   der::tlv(der::kOctetString, der::tlv(der::kSequence, names)));

  std::string body;
  body.reserve(600);
  body += kVersion3;
  der::appendTlv(body, der::kInteger,
                 std::string_view(reinterpret_cast<char*>(serial), sizeof(serial)));
  body += sigAlg_;
  body += issuer_;
  der::appendTlv(body, der::kSequence, encodeTime(notBefore) + encodeTime(notAfter));
  body += subject_;
  body += spki.first;
  der::appendTlv(body, der::kContext3, der::tlv(der::kSequence, exts));
  return signTbs(der::tlv(der::kSequence, body));
}

}  // namespace lanyard::svid
