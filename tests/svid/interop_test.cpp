// SPDX-License-Identifier: Apache-2.0
// Independent checks of what we mint: the openssl CLI verifies chains against the emitted
// bundle with -x509_strict and shows the required extensions; Python cryptography re-reads
// the chain and checks signatures (X509-*, BUNDLE-10).
#include <catch2/catch.hpp>

#include "common/file_io.h"
#include "support/run.h"
#include "support/temp_dir.h"
#include "svid/authority.h"
#include "test_ca.h"

namespace lanyard::svid {
namespace {

using testing::chainLength;
using testing::run;
using testing::sid;
using testing::td;

struct Written {
  std::string leaf;
  std::string untrusted;
  std::string bundle;
  std::string chainDer;
  std::string bundleDer;
};

Written writeSvid(const testing::TempDir& dir, const X509Svid& svid, const Bundle& bundle) {
  Written w{dir.file("leaf.pem"), dir.file("untrusted.pem"), dir.file("bundle.pem"),
            dir.file("chain.der"), dir.file("bundle.der")};
  auto certs = svid.certificates();
  REQUIRE(certs);
  std::string rest;
  for (size_t i = 1; i < certs->size(); ++i) {
    rest += *certificateToPem((*certs)[i].get());
  }
  REQUIRE(fileio::writeAtomic(w.leaf, *certificateToPem((*certs)[0].get()), 0644));
  REQUIRE(fileio::writeAtomic(w.untrusted, rest, 0644));
  REQUIRE(fileio::writeAtomic(w.bundle, bundle.x509Pem(), 0644));
  REQUIRE(fileio::writeAtomic(w.chainDer, svid.chainDer(), 0644));
  REQUIRE(fileio::writeAtomic(w.bundleDer, bundle.x509Der(), 0644));
  return w;
}

testing::RunResult opensslVerify(const Written& w, bool withUntrusted) {
  std::vector<std::string> argv = {"openssl", "verify", "-x509_strict", "-CAfile", w.bundle};
  if (withUntrusted) {
    argv.insert(argv.end(), {"-untrusted", w.untrusted});
  }
  argv.push_back(w.leaf);
  return run(argv);
}

void checkWithPython(const Written& w, const std::string& expectedId) {
  auto r = run({testing::python(), testing::sourceDir() + "/tests/svid/tools/verify_x509.py",
                "--chain-der", w.chainDer, "--bundle-der", w.bundleDer, "--expect-id", expectedId});
  INFO(r.output);
  CHECK(r.exitCode == 0);
}

TEST_CASE("openssl verify -x509_strict accepts self-signed-mode SVIDs against our bundle",
          "[svid][interop]") {
  testing::TempDir dir;
  FakeClock clock(SystemClock::instance().now());
  auto a =
      Authority::create({.trustDomain = td("example.org"), .dataDir = dir.file("data")}, clock);
  REQUIRE(a);
  auto snap = (*a)->current();
  auto svid = snap->x509->mint(sid("spiffe://example.org/billing/api"), {{"billing.internal"}},
                               clock.now());
  REQUIRE(svid);
  auto w = writeSvid(dir, *svid, *snap->bundle);
  auto r = opensslVerify(w, false);
  INFO(r.output);
  CHECK(r.exitCode == 0);

  auto text = run({"openssl", "x509", "-in", w.leaf, "-noout", "-text"});
  REQUIRE(text.exitCode == 0);
  for (const char* want :
       {"X509v3 Basic Constraints: critical", "CA:FALSE", "X509v3 Key Usage: critical",
        "Digital Signature, Key Encipherment, Key Agreement",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "X509v3 Subject Key Identifier", "X509v3 Authority Key Identifier",
        "URI:spiffe://example.org/billing/api", "DNS:billing.internal", "ecdsa-with-SHA256"}) {
    INFO(want);
    CHECK_THAT(text.output, Catch::Contains(want));
  }
  auto caText = run({"openssl", "x509", "-in", w.bundle, "-noout", "-text"});
  for (const char* want :
       {"CA:TRUE", "X509v3 Key Usage: critical", "Digital Signature, Certificate Sign, CRL Sign",
        "URI:spiffe://example.org"}) {
    INFO(want);
    CHECK_THAT(caText.output, Catch::Contains(want));
  }
  checkWithPython(w, "spiffe://example.org/billing/api");
}

TEST_CASE("openssl verify accepts disk-mode chains through the daemon's intermediate",
          "[svid][interop]") {
  testing::TempDir dir;
  SysTime now = SystemClock::instance().now();
  FakeClock clock(now);
  auto root = testing::makeTestCa("corp.example", now, Seconds(30 * 86400));
  REQUIRE(fileio::writeAtomic(dir.file("up.pem"), *certificateToPem(root.cert.get()), 0644));
  REQUIRE(fileio::writeAtomic(dir.file("up.key"), *privateKeyToPem(root.key.get()), 0600));
  auto a = Authority::create({.trustDomain = td("example.org"),
                              .dataDir = dir.file("data"),
                              .upstream = UpstreamMode::Disk,
                              .upstreamCertFile = dir.file("up.pem"),
                              .upstreamKeyFile = dir.file("up.key")},
                             clock);
  REQUIRE(a);
  auto snap = (*a)->current();
  auto svid = snap->x509->mint(sid("spiffe://example.org/w"), {}, now);
  REQUIRE(svid);
  REQUIRE(chainLength(*svid) == 2);
  auto w = writeSvid(dir, *svid, *snap->bundle);
  auto ok = opensslVerify(w, true);
  INFO(ok.output);
  CHECK(ok.exitCode == 0);
  // Without the intermediate the leaf does not chain: the chain we serve is what makes it work.
  CHECK(opensslVerify(w, false).exitCode != 0);
  checkWithPython(w, "spiffe://example.org/w");
}

TEST_CASE("openssl verify rejects an SVID against another domain's bundle", "[svid][interop]") {
  testing::TempDir dir;
  SysTime now = SystemClock::instance().now();
  auto ca = testing::makeTestCa("example.org", now);
  auto foreign = testing::makeTestCa("other.org", now);
  auto svid = ca.issuer->mint(sid("spiffe://example.org/w"), {}, now);
  REQUIRE(svid);
  auto w = writeSvid(dir, *svid, *foreign.bundles.begin()->second);
  CHECK(opensslVerify(w, false).exitCode != 0);
  auto r = run({testing::python(), testing::sourceDir() + "/tests/svid/tools/verify_x509.py",
                "--chain-der", w.chainDer, "--bundle-der", w.bundleDer, "--expect-id",
                "spiffe://example.org/w"});
  CHECK(r.exitCode == 1);
}

}  // namespace
}  // namespace lanyard::svid
