// SPDX-License-Identifier: Apache-2.0
// lanyard-demo: loads (or creates) a self-signed authority in a data directory, mints an
// X.509-SVID and a JWT-SVID for the invoking user, checks both against the bundle and prints
// them. A stand-in for `make run` until lanyardd serves the Workload API.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "common/file_io.h"
#include "common/log.h"
#include "svid/authority.h"

namespace lanyard {
namespace {

std::string defaultDataDir() {
  if (const char* x = std::getenv("XDG_DATA_HOME"); x != nullptr && *x != '\0') {
    return std::string(x) + "/lanyard/demo";
  }
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    return std::string(h) + "/.local/share/lanyard/demo";
  }
  return "/tmp/lanyard-" + std::to_string(::getuid()) + "/demo";
}

struct Options {
  std::string trustDomain = "example.org";
  std::string dataDir = defaultDataDir();
  std::string spiffeId;
  std::string audience = "spiffe://example.org/demo-audience";
  std::string writeDir;
};

Result<void> writeFiles(const std::string& dir, const svid::X509Svid& svid,
                        const svid::Bundle& bundle) {
  LANYARD_TRY_VOID(fileio::makeDirs(dir, 0700));
  LANYARD_TRY(std::string chain, svid.chainPem());
  LANYARD_TRY(std::string key, svid::privateKeyToPem(svid.key.get()));
  auto r = fileio::writeAtomic(dir + "/svid.0.key", key, 0600);
  OPENSSL_cleanse(key.data(), key.size());
  LANYARD_TRY_VOID(r);
  LANYARD_TRY_VOID(fileio::writeAtomic(dir + "/svid.0.pem", chain, 0644));
  LANYARD_TRY_VOID(fileio::writeAtomic(dir + "/bundle.0.pem", bundle.x509Pem(), 0644));
  std::printf("wrote %s/svid.0.pem, svid.0.key (0600), bundle.0.pem\n", dir.c_str());
  return {};
}

Result<void> run(const Options& o) {
  LANYARD_TRY(auto td, svid::TrustDomain::parseForConfig(o.trustDomain));
  std::string idText =
      o.spiffeId.empty() ? td.idString() + "/demo/uid/" + std::to_string(::getuid()) : o.spiffeId;
  LANYARD_TRY(auto id, svid::SpiffeId::parse(idText));
  const Clock& clock = SystemClock::instance();
  LANYARD_TRY(auto authority,
              svid::Authority::create({.trustDomain = td, .dataDir = o.dataDir}, clock));
  auto snap = authority->current();
  LANYARD_TRY(auto x509, snap->x509->mint(id, {}, clock.now()));
  svid::BundleMap bundles{{td, snap->bundle}};
  LANYARD_TRY(auto verified, svid::verifyX509Svid(x509.chainDer(), bundles, clock.now()));
  LANYARD_TRY(std::string jwt,
              svid::mintJwtSvid(*snap->jwt, id, {o.audience}, clock.now(), Seconds(300)));
  LANYARD_TRY(auto claims, svid::validateJwtSvid(jwt, bundles, o.audience, clock.now()));
  LANYARD_TRY(std::string pem, x509.chainPem());
  LANYARD_TRY(std::string jwks, snap->bundle->toSpiffeJson());

  std::printf("trust domain : %s (CA state in %s)\n", td.name().c_str(), o.dataDir.c_str());
  std::printf("X.509-SVID   : %s, valid until %lld (verified against the bundle)\n",
              verified.str().c_str(), static_cast<long long>(unixSeconds(x509.notAfter)));
  std::printf("JWT-SVID     : sub %s, aud %s, kid %s (validated)\n", claims.subject.str().c_str(),
              o.audience.c_str(), claims.kid.c_str());
  std::printf("\n%s\n%s\n\nSPIFFE bundle:\n%s\n", pem.c_str(), jwt.c_str(), jwks.c_str());
  if (!o.writeDir.empty()) {
    LANYARD_TRY_VOID(writeFiles(o.writeDir, x509, *snap->bundle));
  }
  return {};
}

}  // namespace
}  // namespace lanyard

int main(int argc, char** argv) {
  lanyard::Options o;
  CLI::App app{
      "lanyard-demo: mint an X.509-SVID and a JWT-SVID from a local self-signed authority\n"
      "and check them against its trust bundle (until lanyardd serves the Workload API)."};
  app.add_option("--trust-domain", o.trustDomain, "Trust domain")->capture_default_str();
  app.add_option("--data-dir", o.dataDir, "CA state directory")->capture_default_str();
  app.add_option("--spiffe-id", o.spiffeId,
                 "SPIFFE ID to mint (default spiffe://<td>/demo/uid/<uid>)");
  app.add_option("--audience", o.audience, "JWT-SVID audience")->capture_default_str();
  app.add_option("--write", o.writeDir, "Also write svid.0.pem, svid.0.key, bundle.0.pem here");
  CLI11_PARSE(app, argc, argv);
  (void)lanyard::log::configure("info", lanyard::log::Format::Text);
  auto r = lanyard::run(o);
  if (!r) {
    std::fprintf(stderr, "lanyard-demo: %s\n", r.error().message.c_str());
    return 1;
  }
  return 0;
}
