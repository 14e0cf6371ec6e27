// SPDX-License-Identifier: Apache-2.0
// measureNode(), the EK certificate check, and NodeMonitor's measuring thread.
#include "attestors/tpm/node_attestor.h"

#include <algorithm>
#include <map>
#include <utility>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "common/file_io.h"
#include "common/log.h"

namespace lanyard::attestors::tpm {
namespace {

constexpr size_t kNonceBytes = 32;
// A PCR extended between reading the PCRs and quoting them makes the digests differ: measure
// again, a few times, before calling it a failure.
constexpr int kQuoteAttempts = 3;

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::optional<std::string> commonName(const X509_NAME* name) {
  int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) {
    return std::nullopt;
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    return std::nullopt;
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

// Whether `cert` chains to a certificate in the PEM bundle (every certificate in it is a
// trust anchor or an intermediate: a chain must still end at a self-signed one).
Result<bool> chainsTo(X509* cert, const std::string& bundlePem) {
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(bundlePem.data(), static_cast<int>(bundlePem.size())));
  ossl::UniquePtr<X509_STORE> store(X509_STORE_new());
  if (!bio || !store) {
    return ossl::fail("reading the EK CA bundle");
  }
  size_t count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    ossl::UniquePtr<X509> owned(ca);
    if (X509_STORE_add_cert(store.get(), ca) != 1) {
      ERR_clear_error();  // a duplicate certificate
    }
    ++count;
  }
  ERR_clear_error();  // the end of the file reads as an error
  if (count == 0) {
    return fail(Code::InvalidArgument, "the EK CA bundle holds no PEM certificate");
  }
  ossl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    return ossl::fail("verifying the EK certificate");
  }
  bool ok = X509_verify_cert(ctx.get()) == 1;
  if (!ok) {
    log::get("attestor.tpm")
        ->warn("the EK certificate does not chain to the EK CA bundle: {}",
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  ERR_clear_error();
  return ok;
}

Result<std::vector<Selector>> measureOnce(const Settings& s, TpmDevice& tpm,
                                          const std::string& ekSpki) {
  std::string nonce(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), kNonceBytes) != 1) {
    return ossl::fail("making the quote nonce");
  }
  LANYARD_TRY(auto quoted, tpm.quote(s.ekHandle, s.pcrs, nonce));
  LANYARD_TRY(auto pcrs, tpm.readPcrs(s.pcrs));
  LANYARD_TRY(auto ak, publicKeyFromTpmt(quoted.akPublic));
  LANYARD_TRY_VOID(verifyQuote(quoted.quote, ak.get(), nonce, pcrs));
  std::vector<Selector> out;
  out.push_back({"tpm", "ek_pubhash:" + hex(sha256(ekSpki))});
  for (size_t i = 0; i < pcrs.indexes.size(); ++i) {
    out.push_back({"tpm", "pcr:" + std::to_string(pcrs.indexes[i]) + ":" + hex(pcrs.values[i])});
  }
  return out;
}

}  // namespace

Result<std::vector<Selector>> ekCertificateSelectors(const std::string& certDer,
                                                     const std::string& ekSpki,
                                                     const std::string& caBundlePem) {
  const auto* p = reinterpret_cast<const unsigned char*>(certDer.data());
  // NV areas may be larger than the certificate: d2i reads one DER object and stops.
  ossl::UniquePtr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(certDer.size())));
  if (!cert) {
    ERR_clear_error();
    return fail(Code::InvalidArgument, "the EK certificate is not DER X.509");
  }
  EVP_PKEY* certKey = X509_get0_pubkey(cert.get());
  if (certKey == nullptr) {
    ERR_clear_error();
    return fail(Code::InvalidArgument, "the EK certificate's public key is unreadable");
  }
  LANYARD_TRY(std::string certSpki, subjectPublicKeyInfo(certKey));
  if (certSpki != ekSpki) {
    return fail(Code::PermissionDenied, "the EK certificate is for another key than the EK");
  }
  std::vector<Selector> out;
  if (auto cn = commonName(X509_get_issuer_name(cert.get()))) {
    out.push_back({"tpm", "ek_cert_issuer:" + *cn});
  }
  if (!caBundlePem.empty()) {
    LANYARD_TRY(bool verified, chainsTo(cert.get(), caBundlePem));
    if (verified) {
      out.push_back({"tpm", "ek_cert_verified:true"});
    }
  }
  return out;
}

Result<std::vector<Selector>> measureNode(const Settings& s) {
  std::string bundle;
  if (!s.ekCaBundle.empty()) {
    auto text = fileio::read(s.ekCaBundle);
    if (!text) {
      return fail(text.error().wrap("reading node_attestors.tpm.ek_ca_bundle"));
    }
    bundle = std::move(*text);
  }
  LANYARD_TRY(auto tpm, TpmDevice::open(s.tcti));
  LANYARD_TRY(std::string ekPublic, tpm->ekPublic(s.ekHandle));
  LANYARD_TRY(auto ekKey, publicKeyFromTpmt(ekPublic));
  LANYARD_TRY(std::string ekSpki, subjectPublicKeyInfo(ekKey.get()));

  Result<std::vector<Selector>> measured = fail(Code::Internal, "not measured");
  for (int attempt = 1; attempt <= kQuoteAttempts; ++attempt) {
    measured = measureOnce(s, *tpm, ekSpki);
    if (measured || measured.error().code != Code::PermissionDenied) {
      break;
    }
  }
  if (!measured) {
    return measured;
  }
  std::vector<Selector> out = std::move(*measured);
  auto cert = tpm->readNvCertificate(kRsaEkCertIndex);
  if (cert) {
    auto certSelectors = ekCertificateSelectors(*cert, ekSpki, bundle);
    if (certSelectors) {
      out.insert(out.end(), certSelectors->begin(), certSelectors->end());
    } else {
      log::get("attestor.tpm")->warn("EK certificate ignored: {}", certSelectors.error().message);
    }
  } else if (cert.error().code != Code::NotFound) {
    log::get("attestor.tpm")->warn("EK certificate ignored: {}", cert.error().message);
  }
  std::sort(out.begin(), out.end());
  return out;
}

NodeMonitor::NodeMonitor(Settings settings, Listener onChange, Measure measure)
    : settings_(std::move(settings)), onChange_(std::move(onChange)), measure_(std::move(measure)) {
  measureOnce();
  thread_ = std::thread([this] { run(); });
}

NodeMonitor::~NodeMonitor() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void NodeMonitor::remeasure() {
  {
    std::lock_guard lock(mu_);
    requested_ = true;
  }
  wake_.notify_all();
}

std::vector<Selector> NodeMonitor::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

uint64_t NodeMonitor::measurements() const {
  std::lock_guard lock(mu_);
  return measurements_;
}

void NodeMonitor::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, settings_.interval, [this] { return stop_ || requested_; });
    if (stop_) {
      return;
    }
    requested_ = false;
    lock.unlock();
    measureOnce();
    lock.lock();
  }
}

void NodeMonitor::measureOnce() {
  auto log = log::get("attestor.tpm");
  const auto started = std::chrono::steady_clock::now();
  auto measured = measure_(settings_);
  const auto tookMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  std::vector<Selector> next = measured ? std::move(*measured) : std::vector<Selector>{};
  std::vector<Selector> previous;
  bool first = false;
  bool changed = false;
  std::optional<std::string> error;
  {
    std::lock_guard lock(mu_);
    first = measurements_ == 0;
    ++measurements_;
    previous = current_;
    changed = next != current_;
    current_ = next;
    if (!measured) {
      error = measured.error().message;
      if (lastError_ == error) {
        error.reset();  // the same failure again: logged once
      }
      lastError_ = measured.error().message;
    } else {
      lastError_.reset();
    }
  }
  if (error) {
    log->error(
        "TPM measurement failed: {}; every tpm selector is withdrawn (entries that need "
        "one are not served until a measurement succeeds)",
        *error);
  } else if (!measured) {
    log->debug("TPM measurement failed again: {}", measured.error().message);
  } else if (first || previous.empty()) {
    std::string list;
    for (const auto& sel : next) {
      list += (list.empty() ? "" : ", ") + sel.str();
    }
    log->info("TPM measured: {}", list);
    log->debug("TPM measurement took {} ms", tookMs);
  } else if (changed) {
    // What differs, old and new, for the PCRs (and any other tpm selector).
    std::vector<Selector> gone;
    std::vector<Selector> added;
    std::set_difference(previous.begin(), previous.end(), next.begin(), next.end(),
                        std::back_inserter(gone));
    std::set_difference(next.begin(), next.end(), previous.begin(), previous.end(),
                        std::back_inserter(added));
    std::string what;
    for (const auto& sel : gone) {
      what += (what.empty() ? "" : ", ") + ("-" + sel.str());
    }
    for (const auto& sel : added) {
      what += (what.empty() ? "" : ", ") + ("+" + sel.str());
    }
    log->warn(
        "TPM measurement changed: {}; identities whose entries need the old values are "
        "withdrawn",
        what);
  } else {
    log->debug("TPM measured: unchanged ({} ms)", tookMs);
  }
  if (changed || first) {
    onChange_(next);
  }
}

}  // namespace lanyard::attestors::tpm
