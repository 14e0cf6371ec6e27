// SPDX-License-Identifier: Apache-2.0
// The `lanyard` commands: each prints its result to stdout and returns an Error for main() to
// print as "lanyard: <doing what>: <what went wrong>" (exit 1).
#pragma once

#include <string>
#include <vector>

#include "cli/common_options.h"
#include "common/result.h"

namespace lanyard::cli {

/// `lanyard api fetch x509 [--write DIR]`.
struct FetchX509Options {
  CommonOptions common;
  std::string writeDir;
};
Result<void> fetchX509(const FetchX509Options& options);

/// `lanyard api fetch jwt --audience A… [--spiffe-id ID]`.
struct FetchJwtOptions {
  CommonOptions common;
  std::vector<std::string> audiences;
  std::string spiffeId;
};
Result<void> fetchJwt(const FetchJwtOptions& options);

/// `lanyard api fetch bundle`.
Result<void> fetchBundle(const CommonOptions& options);

/// `lanyard api validate jwt --audience A TOKEN`.
struct ValidateJwtOptions {
  CommonOptions common;
  std::string audience;
  std::string token;
};
Result<void> validateJwt(const ValidateJwtOptions& options);

/// `lanyard api watch`: until SIGINT or SIGTERM (ok) or a watch-ending error. Blocks both
/// signals in the calling thread, so call it before any other thread exists.
Result<void> watch(const CommonOptions& options);

/// `lanyard healthcheck [--http ADDR]`: gRPC health over the socket, or with `httpAddress`
/// lanyardd's /ready on its health listener.
Result<void> healthcheck(const CommonOptions& options, const std::string& httpAddress);

/// `lanyard config check FILE`.
Result<void> configCheck(const std::string& path);

}  // namespace lanyard::cli
