// SPDX-License-Identifier: Apache-2.0
// `lanyard healthcheck` (grpc.health.v1 over the socket, or /ready over HTTP) and
// `lanyard config check FILE`.
#include <string>

#include "attestors/attestor_set.h"
#include "cli/commands.h"
#include "cli/http_health.h"
#include "cli/output.h"
#include "daemon/config.h"

namespace lanyard::cli {

Result<void> healthcheck(const CommonOptions& options, const std::string& httpAddress) {
  if (!httpAddress.empty()) {
    LANYARD_TRY(auto timeout, parseTimeout(options.timeout));
    LANYARD_TRY(HttpAnswer answer, httpGet(httpAddress, "/ready", timeout));
    std::string body = answer.body.substr(0, answer.body.find('\n'));
    if (answer.status != 200) {
      return fail(Code::Unavailable, "checking http://" + httpAddress + "/ready: status " +
                                         std::to_string(answer.status) +
                                         (body.empty() ? "" : ": " + body));
    }
    printText("http://" + httpAddress + "/ready: " + (body.empty() ? "ready" : body) + "\n");
    return {};
  }
  LANYARD_TRY(auto client, connect(options));
  LANYARD_TRY_VOID(client->checkHealth());
  printText(client->endpoint().address + ": SERVING\n");
  return {};
}

Result<void> configCheck(const std::string& path) {
  auto config = daemon::loadConfig(path);
  if (!config) {
    return fail(config.error().wrap("checking the configuration"));
  }
  // The attestors check their own settings, as lanyardd does before it opens the socket: an
  // empty `attestors:` map means the unix attestor alone. Building them touches no workload.
  auto attestors = attestors::AttestorSet::fromConfig(
      config->attestors.size() == 0 ? YAML::Node() : config->attestors);
  if (!attestors) {
    return fail(attestors.error().wrap("checking the configuration " + path));
  }
  printText(path + ": ok\n  trust domain: " + config->trustDomain.name() +
            "\n  socket:       " + config->socketPath +
            "\n  entries:      " + std::to_string(config->entries.size()) + "\n");
  return {};
}

}  // namespace lanyard::cli
