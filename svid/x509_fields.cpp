// SPDX-License-Identifier: Apache-2.0
// Certificate field encoding shared by CA and leaf minting.
#include "svid/x509_fields.h"

#include <ctime>

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

namespace lanyard::svid::x509fields {
namespace {

template <typename T>
Result<ossl::UniquePtr<X509_EXTENSION>> encodeExt(int nid, bool critical, T* value,
                                                  const char* what) {
  ossl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_i2d(nid, critical ? 1 : 0, value));
  if (!ext) {
    return ossl::fail(std::string("encoding ") + what + " extension");
  }
  return ext;
}

SysTime fromAsn1(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    return SysTime{};
  }
  return fromUnixSeconds(static_cast<int64_t>(timegm(&tm)));
}

}  // namespace

Result<void> setRandomSerial(X509* cert) {
  ossl::UniquePtr<BIGNUM> bn(BN_new());
  // 128 bits with the top bit set: positive, always 16 octets, 127 random bits (X509-11).
  if (!bn || BN_rand(bn.get(), 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return ossl::fail("setting certificate serial");
  }
  return {};
}

Result<ossl::UniquePtr<X509_NAME>> makeName(
    std::initializer_list<std::pair<const char*, std::string>> rdns) {
  ossl::UniquePtr<X509_NAME> name(X509_NAME_new());
  if (!name) {
    return ossl::fail("building distinguished name");
  }
  for (const auto& [attr, value] : rdns) {
    if (X509_NAME_add_entry_by_txt(name.get(), attr, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return ossl::fail(std::string("adding ") + attr + " to distinguished name");
    }
  }
  return name;
}

Result<void> setValidity(X509* cert, SysTime from, SysTime to) {
  if (ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(unixSeconds(from))) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(unixSeconds(to))) == nullptr) {
    return ossl::fail("setting certificate validity");
  }
  return {};
}

SysTime notBefore(const X509* cert) { return fromAsn1(X509_get0_notBefore(cert)); }
SysTime notAfter(const X509* cert) { return fromAsn1(X509_get0_notAfter(cert)); }

Result<std::string> setPublicKey(X509* cert, EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    unsigned char point[133];  // uncompressed P-521 point is the largest
    size_t len = 0;
    char group[32] = {0};
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                        sizeof(point), &len) != 1 ||
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       nullptr) != 1) {
      return ossl::fail("reading EC public key");
    }
    int curve = OBJ_sn2nid(group);
    if (curve == NID_undef) {
      curve = EC_curve_nist2nid(group);
    }
    auto* enc = static_cast<unsigned char*>(OPENSSL_memdup(point, len));
    if (curve == NID_undef || enc == nullptr ||
        X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                               V_ASN1_OBJECT, OBJ_nid2obj(curve), enc,
                               static_cast<int>(len)) != 1) {
      OPENSSL_free(enc);
      return ossl::fail("setting EC public key");
    }
    return std::string(reinterpret_cast<char*>(point), len);
  }
  if (X509_set_pubkey(cert, key) != 1) {
    return ossl::fail("setting public key");
  }
  return subjectPublicKeyBytes(cert);
}

Result<std::string> authorityKeyIdFor(X509* issuer) {
  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(issuer); ski != nullptr) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
                       static_cast<size_t>(ASN1_STRING_length(ski)));
  }
  std::string spk = subjectPublicKeyBytes(issuer);
  if (spk.empty()) {
    return fail(Code::InvalidArgument, "computing key identifier: issuer has no public key");
  }
  return keyIdentifier(spk);
}

std::string subjectPublicKeyBytes(const X509* cert) {
  const unsigned char* pk = nullptr;
  int len = 0;
  if (X509_PUBKEY_get0_param(nullptr, &pk, &len, nullptr, X509_get_X509_PUBKEY(cert)) != 1) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(pk), static_cast<size_t>(len));
}

Result<std::string> keyIdentifier(std::string_view subjectPublicKey) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(subjectPublicKey.data(), subjectPublicKey.size(), md, &len, EVP_sha1(), nullptr) !=
      1) {
    return ossl::fail("computing key identifier");
  }
  return std::string(reinterpret_cast<char*>(md), len);
}

Result<void> addExtension(X509* cert, X509_EXTENSION* ext) {
  if (X509_add_ext(cert, ext, -1) != 1) {
    return ossl::fail("adding certificate extension");
  }
  return {};
}

Result<ossl::UniquePtr<X509_EXTENSION>> basicConstraints(bool ca, int pathLen) {
  ossl::UniquePtr<BASIC_CONSTRAINTS> bc(BASIC_CONSTRAINTS_new());
  if (!bc) {
    return ossl::fail("building basic constraints");
  }
  bc->ca = ca ? 0xFF : 0;
  if (ca && pathLen >= 0) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, pathLen) != 1) {
      return ossl::fail("building basic constraints");
    }
  }
  // X509-5: present and critical on every certificate.
  return encodeExt(NID_basic_constraints, true, bc.get(), "basic constraints");
}

Result<ossl::UniquePtr<X509_EXTENSION>> keyUsage(int bits) {
  ossl::UniquePtr<ASN1_STRING> ku(ASN1_BIT_STRING_new());
  if (!ku) {
    return ossl::fail("building key usage");
  }
  const std::pair<int, int> kBits[] = {{KU_DIGITAL_SIGNATURE, 0}, {KU_NON_REPUDIATION, 1},
                                       {KU_KEY_ENCIPHERMENT, 2},  {KU_DATA_ENCIPHERMENT, 3},
                                       {KU_KEY_AGREEMENT, 4},     {KU_KEY_CERT_SIGN, 5},
                                       {KU_CRL_SIGN, 6}};
  for (auto [flag, bit] : kBits) {
    if ((bits & flag) != 0 && ASN1_BIT_STRING_set_bit(ku.get(), bit, 1) != 1) {
      return ossl::fail("building key usage");
    }
  }
  // X509-4: key usage is critical on every SVID and CA.
  return encodeExt(NID_key_usage, true, ku.get(), "key usage");
}

Result<ossl::UniquePtr<X509_EXTENSION>> extKeyUsageServerClient() {
  ossl::UniquePtr<EXTENDED_KEY_USAGE> eku(sk_ASN1_OBJECT_new_null());
  if (!eku || sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth)) == 0 ||
      sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_client_auth)) == 0) {
    return ossl::fail("building extended key usage");
  }
  return encodeExt(NID_ext_key_usage, false, eku.get(), "extended key usage");
}

Result<ossl::UniquePtr<X509_EXTENSION>> subjectKeyId(std::string_view keyId) {
  ossl::UniquePtr<ASN1_STRING> os(ASN1_OCTET_STRING_new());
  if (!os || ASN1_OCTET_STRING_set(os.get(), reinterpret_cast<const unsigned char*>(keyId.data()),
                                   static_cast<int>(keyId.size())) != 1) {
    return ossl::fail("building subject key identifier");
  }
  // X509-11: never critical.
  return encodeExt(NID_subject_key_identifier, false, os.get(), "subject key identifier");
}

Result<ossl::UniquePtr<X509_EXTENSION>> authorityKeyId(std::string_view keyId) {
  ossl::UniquePtr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
  if (!akid) {
    return ossl::fail("building authority key identifier");
  }
  akid->keyid = ASN1_OCTET_STRING_new();
  if (akid->keyid == nullptr ||
      ASN1_OCTET_STRING_set(akid->keyid, reinterpret_cast<const unsigned char*>(keyId.data()),
                            static_cast<int>(keyId.size())) != 1) {
    return ossl::fail("building authority key identifier");
  }
  return encodeExt(NID_authority_key_identifier, false, akid.get(), "authority key identifier");
}

Result<ossl::UniquePtr<X509_EXTENSION>> subjectAltNames(std::string_view uri,
                                                        const std::vector<std::string>& dns,
                                                        bool critical) {
  ossl::UniquePtr<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  if (!names) {
    return ossl::fail("building subject alternative names");
  }
  auto push = [&](int type, std::string_view value) -> bool {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_STRING* s = ASN1_IA5STRING_new();
    if (gn == nullptr || s == nullptr ||
        ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())) != 1) {
      GENERAL_NAME_free(gn);
      ASN1_STRING_free(s);
      return false;
    }
    GENERAL_NAME_set0_value(gn, type, s);  // gn takes ownership of s
    if (sk_GENERAL_NAME_push(names.get(), gn) == 0) {
      GENERAL_NAME_free(gn);
      return false;
    }
    return true;  // names took ownership of gn
  };
  if (!push(GEN_URI, uri)) {
    return ossl::fail("building subject alternative names");
  }
  for (const auto& d : dns) {
    if (!push(GEN_DNS, d)) {
      return ossl::fail("building subject alternative names");
    }
  }
  return encodeExt(NID_subject_alt_name, critical, names.get(), "subject alternative name");
}

const EVP_MD* digestFor(const EVP_PKEY* signingKey) {
  if (EVP_PKEY_is_a(signingKey, "EC") && EVP_PKEY_get_bits(signingKey) > 256) {
    return EVP_sha384();
  }
  return EVP_sha256();
}

Result<void> sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, digestFor(key)) <= 0) {
    return ossl::fail("signing certificate");
  }
  return {};
}

Result<ossl::UniquePtr<X509>> signAndReparse(X509* cert, EVP_PKEY* key) {
  LANYARD_TRY_VOID(sign(cert, key));
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) {
    return ossl::fail("encoding certificate");
  }
  const unsigned char* p = der;
  ossl::UniquePtr<X509> parsed(d2i_X509(nullptr, &p, len));
  OPENSSL_free(der);
  if (!parsed) {
    return ossl::fail("re-reading signed certificate");
  }
  return parsed;
}

}  // namespace lanyard::svid::x509fields
