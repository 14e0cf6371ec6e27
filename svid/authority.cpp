// SPDX-License-Identifier: Apache-2.0
// CA rotation state machine and snapshot publication.
#include "svid/authority.h"

#include <algorithm>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/file_io.h"
#include "common/log.h"
#include "svid/ca_certificate.h"
#include "svid/encoding.h"
#include "svid/jwk.h"
#include "svid/x509_fields.h"

namespace lanyard::svid {
namespace {

// base64url(SHA-256) over the DER of each upstream root, in order: what the X.509 bundle gets
// from the upstream. Empty without an upstream.
std::string rootsDigest(const std::vector<ossl::UniquePtr<X509>>& roots) {
  if (roots.empty()) {
    return {};
  }
  std::string all;
  for (const auto& r : roots) {
    auto der = certificateToDer(r.get());
    all += der ? *der : std::string();
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(all.data(), all.size(), out, &len, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return base64UrlEncode(std::string_view(reinterpret_cast<const char*>(out), len));
}

SysTime slotNotBefore(const CaSlot& s) { return s.notBefore; }
SysTime slotNotAfter(const CaSlot& s) { return s.notAfter; }

// Rotation thresholds as fractions of a CA's lifetime (DESIGN.md §3): the next CA is in the
// bundle from half-life on, and signs from the last sixth on, so relying parties see it at
// least a third of a lifetime before the first SVID it signs.
SysTime prepareAt(const CaSlot& s) {
  return slotNotBefore(s) + (slotNotAfter(s) - slotNotBefore(s)) / 2;
}
SysTime activateAt(const CaSlot& s) {
  return slotNotAfter(s) - (slotNotAfter(s) - slotNotBefore(s)) / 6;
}

}  // namespace

const char* upstreamModeName(UpstreamMode m) {
  switch (m) {
    case UpstreamMode::Disk:
      return "disk";
    case UpstreamMode::Tpm:
      return "tpm";
    case UpstreamMode::SelfSigned:
      break;
  }
  return "self_signed";
}

Result<std::unique_ptr<Authority>> Authority::create(AuthorityConfig config, const Clock& clock) {
  if (config.caTtl < Seconds(60)) {
    return fail(Code::InvalidArgument, "configuring authority: ca_ttl must be at least 1m");
  }
  // A prepared CA is published a third of ca_ttl before it signs; relying parties poll every
  // refresh hint, so that gap must cover at least one poll (BUNDLE-11).
  if (config.caTtl < 3 * config.refreshHint) {
    return fail(Code::InvalidArgument,
                "configuring authority: ca_ttl must be at least 3 times the bundle refresh hint (" +
                    std::to_string(config.refreshHint.count()) + "s)");
  }
  if (config.issuingTtl > Seconds(0)) {
    if (config.upstream == UpstreamMode::SelfSigned) {
      return fail(Code::InvalidArgument,
                  "configuring authority: an in-memory issuing CA needs an upstream CA (disk or "
                  "tpm) to sign it");
    }
    if (config.issuingTtl < Seconds(60)) {
      return fail(Code::InvalidArgument,
                  "configuring authority: the issuing CA lifetime must be at least 1m");
    }
  }
  LANYARD_TRY_VOID(fileio::makeDirs(config.dataDir, 0700));
  AuthorityStore store(config.dataDir, config.trustDomain, upstreamModeName(config.upstream),
                       config.issuingTtl == Seconds(0));
  std::unique_ptr<Authority> a(new Authority(std::move(config), clock, std::move(store)));
  if (a->config_.upstream == UpstreamMode::Disk) {
    LANYARD_TRY_VOID(a->loadUpstream());
  } else if (a->config_.upstream == UpstreamMode::Tpm) {
    LANYARD_TRY_VOID(a->loadTpmUpstream());
  }
  LANYARD_TRY(auto loaded, a->store_.load());
  if (loaded) {
    a->state_ = std::move(*loaded);
    if (a->config_.upstream != UpstreamMode::SelfSigned) {
      for (const auto& s : a->state_.slots) {
        if (!s.cert) {
          continue;  // a JWT-only generation (in-memory issuing CA)
        }
        if (X509_check_issued(a->upstream_.cert.get(), s.cert.get()) != X509_V_OK ||
            X509_verify(s.cert.get(), X509_get0_pubkey(a->upstream_.cert.get())) != 1) {
          ERR_clear_error();
          return fail(Code::FailedPrecondition,
                      "loading CA state from " + a->store_.manifestPath() + ": CA " +
                          std::to_string(s.id) +
                          " was not issued by the configured upstream CA (was the upstream "
                          "changed? move the data directory aside to start over)");
        }
      }
    }
  }
  // With an in-memory issuing CA, rewrite the manifest at start: it records each generation's
  // lifetime and drops CA files an older daemon persisted.
  a->dirty_ = loaded && a->config_.issuingTtl > Seconds(0);
  // Upstream roots changed by configuration since the state was saved (a new bundle_file, a
  // TPM key certified by another CA): the bundle's content changed, so does its sequence
  // (BUNDLE-2).
  const std::string roots = rootsDigest(a->upstream_.roots);
  if (loaded && a->state_.upstreamRoots != roots) {
    ++a->state_.sequence;
    log::get("svid")->info("the upstream roots differ from the last run's: bundle sequence {}",
                           a->state_.sequence);
    a->dirty_ = true;
  }
  a->state_.upstreamRoots = roots;
  auto changed = a->advance(clock.now());
  if (!changed) {
    return fail(changed.error());
  }
  if (!*changed) {
    LANYARD_TRY(a->snapshot_, a->buildSnapshot());
  }
  return a;
}

Result<void> Authority::loadUpstream() {
  const std::string& certFile = config_.upstreamCertFile;
  const std::string& keyFile = config_.upstreamKeyFile;
  if (certFile.empty() || keyFile.empty()) {
    return fail(Code::InvalidArgument,
                "configuring disk upstream: authority.disk needs cert_file and key_file");
  }
  auto doing = [&](const std::string& file) { return "loading upstream CA from " + file; };
  auto keyText = fileio::readSecret(keyFile);
  if (!keyText) {
    return fail(keyText.error().wrap(doing(keyFile)));
  }
  auto key = privateKeyFromPem(*keyText);
  OPENSSL_cleanse(keyText->data(), keyText->size());
  if (!key) {
    return fail(key.error().wrap(doing(keyFile)));
  }
  LANYARD_TRY_VOID(loadUpstreamChain(
      certFile, config_.upstreamBundleFile, "authority.disk.bundle_file", key->get(),
      doing(keyFile) + ": key does not match the certificate in " + certFile));
  upstream_.key = std::move(*key);
  return {};
}

Result<void> Authority::loadUpstreamChain(const std::string& certFile,
                                          const std::string& bundleFile,
                                          const std::string& bundleKey, EVP_PKEY* publicKey,
                                          const std::string& mismatch) {
  auto doing = [&](const std::string& file) { return "loading upstream CA from " + file; };
  LANYARD_TRY(std::string certText, fileio::read(certFile));
  auto chain = parsePemCertificates(certText);
  if (!chain) {
    return fail(chain.error().wrap(doing(certFile)));
  }
  X509* cert = (*chain)[0].get();
  if (!keyMatchesCertificate(cert, publicKey)) {
    ERR_clear_error();
    return fail(Code::InvalidArgument, mismatch);
  }
  if ((X509_get_extension_flags(cert) & EXFLAG_CA) == 0 ||
      (X509_get_key_usage(cert) & X509v3_KU_KEY_CERT_SIGN) == 0) {
    return fail(Code::InvalidArgument,
                doing(certFile) + ": certificate is not a CA with the keyCertSign key usage");
  }
  // Served chains end before the root: the upstream certificate itself is part of them unless
  // it is the root (X509-13).
  // Our intermediate sits below the upstream certificate: a path length of 0 there would make
  // every SVID fail chain validation (X509-12).
  if (X509_get_pathlen(cert) == 0) {
    return fail(Code::InvalidArgument,
                doing(certFile) +
                    ": the upstream CA has pathLenConstraint 0, so it cannot sign "
                    "the daemon's intermediate CA");
  }
  for (auto& c : *chain) {
    if (isSelfSigned(c.get())) {
      upstream_.roots.push_back(ossl::upRef(c.get()));
    } else {
      upstream_.intermediates.push_back(ossl::upRef(c.get()));
    }
  }
  if (!bundleFile.empty()) {
    LANYARD_TRY(std::string bundleText, fileio::read(bundleFile));
    auto roots = parsePemCertificates(bundleText);
    if (!roots) {
      return fail(roots.error().wrap(doing(bundleFile)));
    }
    for (auto& r : *roots) {
      upstream_.roots.push_back(std::move(r));
    }
  }
  if (upstream_.roots.empty()) {
    return fail(Code::InvalidArgument, doing(certFile) +
                                           ": the chain does not end in a self-signed root; set " +
                                           bundleKey + " to the upstream roots");
  }
  upstream_.cert = std::move((*chain)[0]);
  return {};
}

Result<std::string> Authority::tpmCertificateRequest(const AuthorityConfig& config) {
  if (config.upstream != UpstreamMode::Tpm) {
    return fail(Code::InvalidArgument,
                "making a certificate request for the TPM CA key: authority.upstream is " +
                    std::string(upstreamModeName(config.upstream)) + ", not tpm");
  }
  LANYARD_TRY_VOID(fileio::makeDirs(config.dataDir, 0700));
  auto key = TpmSigningKey::loadOrCreate(config.tpmTcti, config.dataDir + "/tpm-ca.tpmkey");
  if (!key) {
    return fail(key.error().wrap("loading the TPM upstream CA key"));
  }
  TpmSigningKey* tpm = key->get();
  return makeCaRequestPem(config.trustDomain, "lanyard tpm ca", tpm->publicKey(),
                          [tpm](std::string_view tbs) { return tpm->sign(tbs); });
}

Result<void> Authority::loadTpmUpstream() {
  const std::string blobPath = config_.dataDir + "/tpm-ca.tpmkey";
  const std::string certPath = config_.dataDir + "/tpm-ca.pem";
  auto key = TpmSigningKey::loadOrCreate(config_.tpmTcti, blobPath);
  if (!key) {
    return fail(key.error().wrap("loading the TPM upstream CA key"));
  }
  tpmKey_ = std::move(*key);
  if (!config_.tpmCertFile.empty()) {
    // An operator's CA issued the TPM key's certificate: the key is an intermediate and the
    // bundle is the operator's roots.
    const std::string& certFile = config_.tpmCertFile;
    LANYARD_TRY_VOID(loadUpstreamChain(
        certFile, config_.tpmBundleFile, "authority.tpm.bundle_file", tpmKey_->publicKey(),
        "loading the TPM CA certificate from " + certFile + ": it is not for the TPM key in " +
            blobPath + " (sign a request for that key: lanyardd --tpm-csr FILE)"));
    ossl::UniquePtr<X509_STORE> store(X509_STORE_new());
    ossl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    bool ok = store && ctx && untrusted;
    for (const auto& r : upstream_.roots) {
      ok = ok && X509_STORE_add_cert(store.get(), r.get()) == 1;
    }
    for (const auto& c : upstream_.intermediates) {
      ok = ok && sk_X509_push(untrusted, c.get()) > 0;
    }
    ok = ok && X509_STORE_CTX_init(ctx.get(), store.get(), upstream_.cert.get(), untrusted) == 1;
    if (ok) {
      X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(unixSeconds(clock_.now())));
      ok = X509_verify_cert(ctx.get()) == 1;
    }
    const int err = ctx ? X509_STORE_CTX_get_error(ctx.get()) : X509_V_ERR_UNSPECIFIED;
    sk_X509_free(untrusted);
    ERR_clear_error();
    if (!ok) {
      return fail(Code::FailedPrecondition, "loading the TPM CA certificate from " + certFile +
                                                ": it does not chain to the upstream roots: " +
                                                X509_verify_cert_error_string(err));
    }
    log::get("svid")->info("the TPM CA key is an intermediate: certificate {} (valid until {})",
                           certFile, unixSeconds(x509fields::notAfter(upstream_.cert.get())));
    return {};
  }
  ossl::UniquePtr<X509> cert;
  if (fileio::exists(certPath)) {
    LANYARD_TRY(std::string text, fileio::read(certPath));
    auto certs = parsePemCertificates(text);
    if (!certs || certs->size() != 1) {
      return fail(Code::FailedPrecondition, "loading the TPM upstream CA certificate " + certPath +
                                                ": want exactly one PEM certificate");
    }
    cert = std::move((*certs)[0]);
    if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), tpmKey_->publicKey()) != 1) {
      ERR_clear_error();
      return fail(Code::FailedPrecondition, "loading the TPM upstream CA certificate " + certPath +
                                                ": it is not for the key in " + blobPath +
                                                " (move both aside to start over with a new root)");
    }
  } else {
    const SysTime now = clock_.now();
    CaCertParams p{config_.trustDomain, now - Seconds(10), now + kTpmRootLifetime, "lanyard tpm ca",
                   -1};
    TpmSigningKey* tpm = tpmKey_.get();
    LANYARD_TRY(cert, makeCaCertificate(p, tpm->publicKey(), nullptr, tpm->publicKey(),
                                        [tpm](std::string_view tbs) { return tpm->sign(tbs); }));
    LANYARD_TRY(std::string pem, certificateToPem(cert.get()));
    if (auto written = fileio::writeAtomic(certPath, pem, 0644); !written) {
      return fail(written.error().wrap("writing the TPM upstream CA certificate"));
    }
    log::get("svid")->info("created the TPM-resident root CA certificate {}", certPath);
  }
  upstream_.roots.push_back(ossl::upRef(cert.get()));
  upstream_.cert = std::move(cert);
  return {};
}

Result<ossl::UniquePtr<X509>> Authority::signByUpstream(const CaCertParams& params,
                                                        EVP_PKEY* subjectKey) {
  if (tpmKey_) {
    TpmSigningKey* tpm = tpmKey_.get();
    return makeCaCertificate(params, subjectKey, upstream_.cert.get(), tpm->publicKey(),
                             [tpm](std::string_view tbs) { return tpm->sign(tbs); });
  }
  return makeCaCertificate(params, subjectKey, upstream_.cert.get(), upstream_.key.get());
}

Result<CaSlot> Authority::newSlot(SysTime now) {
  CaSlot slot;
  slot.id = state_.nextSlotId++;
  slot.notBefore = now - Seconds(10);
  slot.notAfter = now + config_.caTtl;
  if (config_.issuingTtl > Seconds(0)) {
    LANYARD_TRY(slot.jwtKey, generateKey(config_.jwtKeyType));
    LANYARD_TRY(slot.jwtKid, keyIdFor(slot.jwtKey.get()));
    return slot;
  }
  LANYARD_TRY(slot.key, generateKey(config_.caKeyType));
  CaCertParams p{config_.trustDomain, slot.notBefore, slot.notAfter,
                 "lanyard ca " + std::to_string(slot.id), -1};
  if (config_.upstream != UpstreamMode::SelfSigned) {
    LANYARD_TRY(slot.cert, signByUpstream(p, slot.key.get()));
  } else {
    LANYARD_TRY(slot.cert, makeCaCertificate(p, slot.key.get(), nullptr, slot.key.get()));
  }
  LANYARD_TRY(slot.jwtKey, generateKey(config_.jwtKeyType));
  LANYARD_TRY(slot.jwtKid, keyIdFor(slot.jwtKey.get()));
  return slot;
}

Result<void> Authority::renewIssuing(SysTime now) {
  const SysTime upstreamNotAfter = x509fields::notAfter(upstream_.cert.get());
  const SysTime notAfter = std::min(now + config_.issuingTtl, upstreamNotAfter);
  if (notAfter - now < Seconds(60)) {
    return fail(Code::FailedPrecondition,
                "issuing the in-memory X.509 CA: the upstream CA certificate expires at " +
                    std::to_string(unixSeconds(upstreamNotAfter)) + " (unix seconds)");
  }
  LANYARD_TRY(auto key, generateKey(config_.caKeyType));
  // pathLenConstraint 0: this CA signs SVIDs only.
  CaCertParams p{config_.trustDomain, now - Seconds(10), notAfter,
                 "lanyard issuing ca " + std::to_string(unixSeconds(now)), 0};
  auto cert = signByUpstream(p, key.get());
  if (!cert) {
    return fail(cert.error().wrap("issuing the in-memory X.509 CA"));
  }
  issuing_.cert = std::move(*cert);
  issuing_.key = std::move(key);
  issuing_.renewAt = now + (notAfter - now) / 2;
  log::get("svid")->info(
      "new in-memory X.509 issuing CA signed by the {} upstream key: valid until {}, replaced "
      "from {} (unix seconds)",
      upstreamModeName(config_.upstream), unixSeconds(notAfter), unixSeconds(issuing_.renewAt));
  return {};
}

const CaSlot* Authority::active() const {
  for (const auto& s : state_.slots) {
    if (s.state == SlotState::Active) {
      return &s;
    }
  }
  return nullptr;
}

Result<bool> Authority::advance(SysTime now) {
  auto log = log::get("svid");
  // What a generation is, in log lines: with an in-memory issuing CA it is a JWT key alone.
  const char* gen = config_.issuingTtl > Seconds(0) ? "JWT key generation" : "CA";
  bool bundleChanged = false;
  bool stateChanged = false;
  auto expired = [&](const CaSlot& s) { return slotNotAfter(s) <= now; };
  for (const auto& s : state_.slots) {
    if (expired(s)) {
      log->info("{} {} ({}) expired; removing it from the bundle", gen, s.id,
                slotStateName(s.state));
    }
  }
  size_t before = state_.slots.size();
  std::erase_if(state_.slots, expired);
  bundleChanged |= state_.slots.size() != before;

  auto findState = [&](SlotState st) -> CaSlot* {
    for (auto& s : state_.slots) {
      if (s.state == st) {
        return &s;
      }
    }
    return nullptr;
  };
  if (findState(SlotState::Active) == nullptr) {
    if (CaSlot* p = findState(SlotState::Prepared)) {
      p->state = SlotState::Active;
      stateChanged = true;
    } else {
      LANYARD_TRY(CaSlot s, newSlot(now));
      s.state = SlotState::Active;
      log->info("created {} {} for {} (upstream {})", gen, s.id, config_.trustDomain.name(),
                upstreamModeName(config_.upstream));
      state_.slots.push_back(std::move(s));
      bundleChanged = true;
    }
  }
  CaSlot* act = findState(SlotState::Active);
  if (findState(SlotState::Prepared) == nullptr && now >= prepareAt(*act)) {
    LANYARD_TRY(CaSlot s, newSlot(now));
    log->info("prepared {} {}: published in the bundle, signing from {}", gen, s.id,
              unixSeconds(activateAt(*act)));
    s.state = SlotState::Prepared;
    state_.slots.push_back(std::move(s));
    act = findState(SlotState::Active);  // push_back may have moved the slots
    bundleChanged = true;
  }
  if (CaSlot* p = findState(SlotState::Prepared); p != nullptr && now >= activateAt(*act)) {
    log->info("activated {} {}; {} {} retired and kept in the bundle until it expires", gen, p->id,
              gen, act->id);
    act->state = SlotState::Retired;
    p->state = SlotState::Active;
    stateChanged = true;
  }
  if (bundleChanged) {
    ++state_.sequence;  // BUNDLE-2: strictly increasing, changed on every content change
  }
  if (bundleChanged || stateChanged || dirty_) {
    // Persist before publishing; on failure stay dirty so the next call retries both.
    dirty_ = true;
    LANYARD_TRY_VOID(store_.save(state_));
  }
  // The in-memory issuing CA is not part of the bundle (the upstream root is): replacing it
  // changes what signs, never what relying parties trust.
  Result<void> issued;
  bool issuingChanged = false;
  if (config_.issuingTtl > Seconds(0) && (!issuing_.cert || now >= issuing_.renewAt)) {
    issued = renewIssuing(now);
    issuingChanged = issued.has_value();
  }
  bool published = false;
  if ((dirty_ || issuingChanged) && (issuing_.cert || config_.issuingTtl == Seconds(0))) {
    LANYARD_TRY(auto snap, buildSnapshot());
    dirty_ = false;
    std::lock_guard lock(mu_);
    snapshot_ = std::move(snap);
    published = true;
  }
  if (!issued) {
    return fail(issued.error());  // the previous issuing CA (if any) signs until it expires
  }
  return published;
}

Result<std::shared_ptr<const AuthoritySnapshot>> Authority::buildSnapshot() const {
  const CaSlot* act = active();
  LANYARD_ASSERT(act != nullptr, "advance() always leaves an active CA");
  auto snap = std::make_shared<AuthoritySnapshot>();
  std::vector<ossl::UniquePtr<X509>> intermediates;
  for (const auto& c : upstream_.intermediates) {
    intermediates.push_back(ossl::upRef(c.get()));
  }
  // The X.509 signer: the in-memory issuing CA, or the active generation's CA.
  X509* caCert = issuing_.cert ? issuing_.cert.get() : act->cert.get();
  EVP_PKEY* caKey = issuing_.cert ? issuing_.key.get() : act->key.get();
  LANYARD_TRY(snap->x509, X509SvidIssuer::create(ossl::upRef(caCert), ossl::upRef(caKey),
                                                 std::move(intermediates)));
  LANYARD_TRY(JwtSigner signer,
              JwtSigner::create(ossl::upRef(act->jwtKey.get()), act->jwtKid, config_.jwtRsaPss));
  snap->jwt = std::make_shared<const JwtSigner>(std::move(signer));
  auto bundle = std::make_shared<Bundle>(config_.trustDomain);
  if (config_.upstream != UpstreamMode::SelfSigned) {
    for (const auto& r : upstream_.roots) {
      LANYARD_TRY_VOID(bundle->addX509Authority(r.get()));
    }
  }
  for (const auto& s : state_.slots) {
    if (config_.upstream == UpstreamMode::SelfSigned) {
      LANYARD_TRY_VOID(bundle->addX509Authority(s.cert.get()));
    }
    LANYARD_TRY_VOID(bundle->addJwtAuthority(s.jwtKid, s.jwtKey.get()));
  }
  bundle->setSequence(state_.sequence);
  bundle->setRefreshHintSeconds(config_.refreshHint.count());
  snap->bundle = std::move(bundle);
  snap->activeNotAfter = issuing_.cert ? x509fields::notAfter(caCert) : slotNotAfter(*act);
  return std::shared_ptr<const AuthoritySnapshot>(std::move(snap));
}

std::shared_ptr<const AuthoritySnapshot> Authority::current() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

Result<bool> Authority::rotate() { return advance(clock_.now()); }

SysTime Authority::nextRotation() const {
  SysTime next = SysTime::max();
  const CaSlot* act = active();
  bool prepared = false;
  for (const auto& s : state_.slots) {
    next = std::min(next, slotNotAfter(s));
    prepared |= s.state == SlotState::Prepared;
  }
  if (act != nullptr) {
    next = std::min(next, prepared ? activateAt(*act) : prepareAt(*act));
  }
  if (issuing_.cert) {
    next = std::min(next, issuing_.renewAt);
  }
  return next;
}

}  // namespace lanyard::svid
