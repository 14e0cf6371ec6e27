// SPDX-License-Identifier: Apache-2.0
// lanyardd: the node agent's entry point — flags, then Daemon.
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/daemon.h"

namespace {

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
  app.add_option("-c,--config", configPath,
                 "configuration file (YAML); reloaded on SIGHUP and on change")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", logLevel, "override log_level: debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_flag("--print-config", printConfig, "print the effective configuration as YAML and exit");
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
