// SPDX-License-Identifier: Apache-2.0
// `lanyard api validate jwt`: asks the agent to validate a JWT-SVID (WAPI-14).
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"

namespace lanyard::cli {

Result<void> validateJwt(const ValidateJwtOptions& options) {
  LANYARD_TRY(auto client, connect(options.common));
  LANYARD_TRY(auto valid, client->validateJwtSvid(options.token, options.audience));
  if (options.common.json()) {
    printJson({{"spiffe_id", valid.spiffeId.str()}, {"claims", valid.claims}});
    return {};
  }
  printText("SVID is valid.\nSPIFFE ID: " + valid.spiffeId.str() + "\nClaims:    " +
            valid.claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return {};
}

}  // namespace lanyard::cli
