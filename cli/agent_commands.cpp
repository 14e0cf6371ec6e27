// SPDX-License-Identifier: Apache-2.0
// `lanyard healthcheck` (grpc.health.v1 over the socket) and `lanyard config check FILE`.
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "daemon/config.h"

namespace lanyard::cli {

Result<void> healthcheck(const CommonOptions& options) {
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
  printText(path + ": ok\n  trust domain: " + config->trustDomain.name() +
            "\n  socket:       " + config->socketPath +
            "\n  entries:      " + std::to_string(config->entries.size()) + "\n");
  return {};
}

}  // namespace lanyard::cli
