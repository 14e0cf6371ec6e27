// SPDX-License-Identifier: Apache-2.0
// Tests for NodeMonitor (attestors/tpm/node_attestor.cpp) with a scripted measurement, and
// for the EK certificate selectors with certificates made here.
#include <atomic>
#include <chrono>
#include <deque>
#include <thread>

#include <catch2/catch.hpp>
#include <openssl/pem.h>

#include "attestors/tpm/node_attestor.h"

namespace lanyard::attestors::tpm {
namespace {

using Selectors = std::vector<Selector>;

// Hands out scripted outcomes, one per measurement; the last one repeats.
class Script {
 public:
  explicit Script(std::deque<Result<Selectors>> outcomes) : outcomes_(std::move(outcomes)) {}
  NodeMonitor::Measure measure() {
    return [this](const Settings&) -> Result<Selectors> {
      std::lock_guard lock(mu_);
      Result<Selectors> r = outcomes_.front();
      if (outcomes_.size() > 1) {
        outcomes_.pop_front();
      }
      return r;
    };
  }

 private:
  std::mutex mu_;
  std::deque<Result<Selectors>> outcomes_;
};

struct Seen {
  std::mutex mu;
  std::vector<Selectors> changes;
  size_t count() {
    std::lock_guard lock(mu);
    return changes.size();
  }
  Selectors last() {
    std::lock_guard lock(mu);
    return changes.back();
  }
};

bool waitFor(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

const Selectors kA = {{"tpm", "ek_pubhash:01"}, {"tpm", "pcr:16:aa"}};
const Selectors kB = {{"tpm", "ek_pubhash:01"}, {"tpm", "pcr:16:bb"}};

}  // namespace

TEST_CASE("NodeMonitor measures before it returns, then tells only of changes",
          "[attestors][tpm]") {
  Script script({kA, kA, kB, kB});
  Seen seen;
  NodeMonitor m(
      {.interval = Seconds(3600)},
      [&](const Selectors& s) {
        std::lock_guard lock(seen.mu);
        seen.changes.push_back(s);
      },
      script.measure());
  REQUIRE(seen.count() == 1);
  CHECK(seen.last() == kA);
  CHECK(m.current() == kA);

  m.remeasure();  // kA again: no news
  REQUIRE(waitFor([&] { return m.measurements() == 2; }));
  CHECK(seen.count() == 1);
  m.remeasure();  // kB: PCR 16 changed
  REQUIRE(waitFor([&] { return m.measurements() == 3; }));
  REQUIRE(seen.count() == 2);
  CHECK(seen.last() == kB);
  CHECK(m.current() == kB);
}

TEST_CASE("a failed measurement withdraws every tpm selector until one succeeds",
          "[attestors][tpm]") {
  Script script({kA, fail(Code::PermissionDenied, "verifying the TPM quote: nonce"),
                 fail(Code::PermissionDenied, "verifying the TPM quote: nonce"), kA});
  Seen seen;
  NodeMonitor m(
      {.interval = Seconds(3600)},
      [&](const Selectors& s) {
        std::lock_guard lock(seen.mu);
        seen.changes.push_back(s);
      },
      script.measure());
  m.remeasure();
  REQUIRE(waitFor([&] { return m.measurements() == 2; }));
  REQUIRE(seen.count() == 2);
  CHECK(seen.last().empty());
  CHECK(m.current().empty());
  m.remeasure();  // fails the same way: nothing new to tell
  REQUIRE(waitFor([&] { return m.measurements() == 3; }));
  CHECK(seen.count() == 2);
  m.remeasure();
  REQUIRE(waitFor([&] { return m.measurements() == 4; }));
  REQUIRE(seen.count() == 3);
  CHECK(seen.last() == kA);
}

TEST_CASE("NodeMonitor re-measures on its interval", "[attestors][tpm]") {
  Script script({kA});
  NodeMonitor m(
      {.interval = Seconds(1)}, [](const Selectors&) {}, script.measure());
  // The first in the constructor, then one a second: three within the 5 s waitFor allows.
  CHECK(waitFor([&] { return m.measurements() >= 3; }));
}

namespace {

ossl::UniquePtr<EVP_PKEY> key() { return ossl::UniquePtr<EVP_PKEY>(EVP_EC_gen("P-256")); }

ossl::UniquePtr<X509> cert(const char* issuerCn, EVP_PKEY* subjectKey, EVP_PKEY* signer, bool ca) {
  ossl::UniquePtr<X509> c(X509_new());
  X509_set_version(c.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 3600);
  X509_NAME* issuer = X509_get_issuer_name(c.get());
  X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(issuerCn), -1, -1, 0);
  if (ca) {
    X509_set_subject_name(c.get(), issuer);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, c.get(), c.get(), nullptr, nullptr, 0);
    ossl::UniquePtr<X509_EXTENSION> bc(
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
    X509_add_ext(c.get(), bc.get(), -1);
  }
  X509_set_pubkey(c.get(), subjectKey);
  REQUIRE(X509_sign(c.get(), signer, EVP_sha256()) > 0);
  return c;
}

std::string der(X509* c) {
  unsigned char* out = nullptr;
  int len = i2d_X509(c, &out);
  std::string s(reinterpret_cast<const char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  return s;
}

std::string pem(X509* c) {
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), c);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

TEST_CASE("EK certificate selectors: issuer CN, verified only against the issuing CA",
          "[attestors][tpm]") {
  auto caKey = key();
  auto ca = cert("Example TPM CA", caKey.get(), caKey.get(), true);
  auto ek = key();
  auto ekSpki = subjectPublicKeyInfo(ek.get());
  REQUIRE(ekSpki);
  const std::string ekCert = der(cert("Example TPM CA", ek.get(), caKey.get(), false).get());
  const Selector issuer{"tpm", "ek_cert_issuer:Example TPM CA"};
  const Selector verified{"tpm", "ek_cert_verified:true"};

  auto right = ekCertificateSelectors(ekCert, *ekSpki, pem(ca.get()));
  REQUIRE(right);
  CHECK(*right == Selectors{issuer, verified});

  auto otherKey = key();
  auto other = cert("Example TPM CA", otherKey.get(), otherKey.get(), true);  // same name
  auto wrong = ekCertificateSelectors(ekCert, *ekSpki, pem(other.get()));
  REQUIRE(wrong);
  CHECK(*wrong == Selectors{issuer});

  auto noBundle = ekCertificateSelectors(ekCert, *ekSpki, "");
  REQUIRE(noBundle);
  CHECK(*noBundle == Selectors{issuer});

  // A certificate for another key than the EK is not the EK's.
  auto notEk = ekCertificateSelectors(ekCert, *subjectPublicKeyInfo(otherKey.get()), pem(ca.get()));
  REQUIRE_FALSE(notEk);
  CHECK(notEk.error().code == Code::PermissionDenied);
  CHECK_FALSE(ekCertificateSelectors("not DER", *ekSpki, ""));
  CHECK_FALSE(ekCertificateSelectors(ekCert, *ekSpki, "no PEM here"));
}

}  // namespace lanyard::attestors::tpm
