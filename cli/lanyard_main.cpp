// SPDX-License-Identifier: Apache-2.0
// `lanyard`: the command line for a workload and an operator: Workload API fetches, validation,
// watch, the agent's health check and a configuration check (docs/cli.md).
#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace lanyard::cli {
namespace {

struct Options {
  FetchX509Options fetchX509;
  FetchJwtOptions fetchJwt;
  CommonOptions fetchBundle;
  ValidateJwtOptions validate;
  CommonOptions watch;
  CommonOptions health;
  std::string healthHttp;
  std::string configFile;
};

// Registers `cmd` to run `action` when it is the command given.
void onRun(CLI::App* cmd, std::function<Result<void>()>& chosen,
           std::function<Result<void>()> action) {
  cmd->callback([&chosen, action = std::move(action)] { chosen = action; });
}

void addApiCommands(CLI::App& app, Options& o, std::function<Result<void>()>& chosen) {
  CLI::App* api = app.add_subcommand("api", "Call the SPIFFE Workload API")->require_subcommand(1);
  CLI::App* fetch = api->add_subcommand("fetch", "Fetch SVIDs or bundles")->require_subcommand(1);

  CLI::App* x509 = fetch->add_subcommand("x509", "Fetch this workload's X.509-SVIDs and bundles");
  addCommonOptions(*x509, o.fetchX509.common, true);
  x509->add_option("--write", o.fetchX509.writeDir,
                   "Also write svid.N.pem (chain), svid.N.key (PKCS#8, mode 0600) and\n"
                   "bundle.N.pem (its trust domain's CAs) to DIR; N = 0 is the default SVID")
      ->type_name("DIR");
  onRun(x509, chosen, [&o] { return fetchX509(o.fetchX509); });

  CLI::App* jwt = fetch->add_subcommand("jwt", "Fetch JWT-SVIDs for one or more audiences");
  addCommonOptions(*jwt, o.fetchJwt.common, true);
  jwt->add_option("--audience", o.fetchJwt.audiences, "Audience (repeat for several)")
      ->required()
      ->take_all();
  jwt->add_option("--spiffe-id", o.fetchJwt.spiffeId,
                  "Only this identity (default: every identity of the workload)");
  onRun(jwt, chosen, [&o] { return fetchJwt(o.fetchJwt); });

  CLI::App* bundle = fetch->add_subcommand("bundle", "Fetch the X.509 and JWT trust bundles");
  addCommonOptions(*bundle, o.fetchBundle, true);
  onRun(bundle, chosen, [&o] { return fetchBundle(o.fetchBundle); });

  CLI::App* validate =
      api->add_subcommand("validate", "Ask the agent to validate an SVID")->require_subcommand(1);
  CLI::App* vjwt = validate->add_subcommand(
      "jwt", "Validate a JWT-SVID for an audience; exit 1 with the reason when invalid");
  addCommonOptions(*vjwt, o.validate.common, true);
  vjwt->add_option("--audience", o.validate.audience, "Audience the token must name")->required();
  vjwt->add_option("TOKEN", o.validate.token, "The JWT-SVID (compact JWS)")->required();
  onRun(vjwt, chosen, [&o] { return validateJwt(o.validate); });

  CLI::App* w = api->add_subcommand(
      "watch", "Print a line for every X.509-SVID update until interrupted (SIGINT, SIGTERM)");
  addCommonOptions(*w, o.watch, true);
  onRun(w, chosen, [&o] { return watch(o.watch); });
}

void addAgentCommands(CLI::App& app, Options& o, std::function<Result<void>()>& chosen) {
  CLI::App* health = app.add_subcommand(
      "healthcheck",
      "Check the agent: its gRPC health service on the socket (exit 0 when SERVING), or with\n"
      "--http its /ready endpoint (exit 0 on 200). Exit 1 when not healthy or unreachable");
  addCommonOptions(*health, o.health, false);
  health
      ->add_option("--http", o.healthHttp,
                   "Ask lanyardd's health listener instead of the socket: GET /ready on\n"
                   "ADDR (host:port, as health.listen; lanyardd's default is 127.0.0.1:8089)")
      ->type_name("ADDR");
  onRun(health, chosen, [&o] { return healthcheck(o.health, o.healthHttp); });

  CLI::App* config =
      app.add_subcommand("config", "Work with lanyardd configuration files")->require_subcommand(1);
  CLI::App* check = config->add_subcommand(
      "check", "Load a lanyardd configuration file as the agent would; exit 1 on any error");
  check->add_option("FILE", o.configFile, "The YAML configuration file")->required();
  onRun(check, chosen, [&o] { return configCheck(o.configFile); });
}

int run(int argc, char** argv) {
  CLI::App app{
      "lanyard: talk to a SPIFFE Workload API agent (lanyardd or SPIRE) and check lanyardd\n"
      "configuration files. Run `lanyard COMMAND --help` for each command's options."};
  app.require_subcommand(1);
  Options o;
  std::function<Result<void>()> chosen;
  addApiCommands(app, o, chosen);
  addAgentCommands(app, o, chosen);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "lanyard: parsing the command line: %s\nRun with --help for usage.\n",
                 e.what());
    return 1;
  }
  auto result = chosen();
  if (!result) {
    std::fprintf(stderr, "lanyard: %s\n", result.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace lanyard::cli

int main(int argc, char** argv) {
  // STYLE.md §4: main() is one of the three places exceptions stop.
  try {
    return lanyard::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lanyard: unexpected error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "lanyard: unexpected error\n");
  }
  return 1;
}
