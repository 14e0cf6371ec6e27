// SPDX-License-Identifier: Apache-2.0
// lanyardd: the node agent's entry point — flags, then Daemon.
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "common/file_io.h"
#include "common/log.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "svid/authority.h"

namespace {

// --tpm-csr: the request is public (a public key and names), so 0644.
int writeTpmCsr(const std::string& configPath, const std::string& csrPath) {
  using namespace lanyard;
  auto config = daemon::loadConfig(configPath);
  if (!config) {
    std::fprintf(stderr, "lanyardd: %s\n", config.error().message.c_str());
    return 1;
  }
  auto pem = svid::Authority::tpmCertificateRequest(config->authority);
  if (!pem) {
    std::fprintf(stderr, "lanyardd: %s\n", pem.error().message.c_str());
    return 1;
  }
  if (auto written = fileio::writeAtomic(csrPath, *pem, 0644); !written) {
    std::fprintf(stderr, "lanyardd: writing the certificate request: %s\n",
                 written.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr,
               "lanyardd: wrote %s, a certificate request for the TPM CA key in %s/tpm-ca.tpmkey.\n"
               "Have your CA sign it as a CA certificate (basicConstraints CA:TRUE, keyUsage\n"
               "keyCertSign) and set authority.tpm.cert_file to the result (docs/tpm.md).\n",
               csrPath.c_str(), config->authority.dataDir.c_str());
  return 0;
}

int runDaemon(int argc, char** argv) {
  using namespace lanyard;
  CLI::App app{
      "lanyardd: SPIFFE workload identity agent. Attests the processes that call its Unix\n"
      "socket and serves them X.509-SVIDs and JWT-SVIDs over the SPIFFE Workload API.\n"
      "Without --config it serves the invoking user from an embedded default configuration\n"
      "(see docs/configuration.md).",
      "lanyardd"};
  std::string configPath;
  std::string logLevel;
  bool printConfig = false;
  std::string csrPath;
  app.add_option("-c,--config", configPath,
                 "configuration file (YAML); reloaded on SIGHUP and on change")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", logLevel, "override log_level: debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_flag("--print-config", printConfig, "print the effective configuration as YAML and exit");
  app.add_option("--tpm-csr", csrPath,
                 "with authority.upstream: tpm, write a certificate signing request for the "
                 "TPM-resident CA key (created when missing) to this file and exit; an "
                 "operator's CA signs it for authority.tpm.cert_file (docs/tpm.md)")
      ->needs("--config");
  app.set_version_flag("--version", std::string("lanyardd ") + LANYARD_VERSION);
  CLI11_PARSE(app, argc, argv);

  daemon::DaemonOptions options;
  if (!configPath.empty()) {
    options.configPath = configPath;
  }
  if (!logLevel.empty()) {
    options.logLevel = logLevel;
  }
  if (printConfig) {
    auto config = options.configPath ? daemon::loadConfig(*options.configPath)
                                     : Result<daemon::Config>(daemon::embeddedDefault(::getuid()));
    if (!config) {
      std::fprintf(stderr, "lanyardd: %s\n", config.error().message.c_str());
      return 1;
    }
    std::fputs(daemon::toYaml(*config).c_str(), stdout);
    return 0;
  }
  if (!csrPath.empty()) {
    return writeTpmCsr(*options.configPath, csrPath);
  }
  auto d = daemon::Daemon::create(std::move(options));
  if (!d) {
    log::get("daemon")->error("lanyardd cannot start: {}", d.error().message);
    return 1;
  }
  (*d)->run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Exceptions stop here (STYLE.md §4): log, then exit 1.
  try {
    return runDaemon(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lanyardd: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "lanyardd: fatal: unknown exception\n");
  }
  return 1;
}
