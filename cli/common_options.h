// SPDX-License-Identifier: Apache-2.0
// Options every `lanyard` command that talks to the agent shares: --socket, --timeout, --output.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "common/result.h"
#include "workload_api/client/client.h"

namespace lanyard::cli {

/// How the agent is reached and how results are printed. Filled in by CLI11.
struct CommonOptions {
  /// --socket: a path or unix:/tcp: URI; empty means $SPIFFE_ENDPOINT_SOCKET, else the socket
  /// of lanyardd's embedded default configuration.
  std::string socket;
  /// --timeout: "5s", "500ms", "1m".
  std::string timeout{"5s"};
  /// --output: "text" or "json".
  std::string output{"text"};

  bool json() const { return output == "json"; }
};

/// Adds --socket and --timeout to `cmd`, and --output too when `withOutput`.
void addCommonOptions(CLI::App& cmd, CommonOptions& options, bool withOutput);

/// Parses "<n>ms", "<n>s", "<n>m", "<n>h"; InvalidArgument naming --timeout otherwise.
Result<std::chrono::milliseconds> parseTimeout(const std::string& text);

/// The address to dial: --socket, else $SPIFFE_ENDPOINT_SOCKET (EP-3), else
/// daemon::embeddedDefault(getuid()).socketPath.
std::string resolveAddress(const CommonOptions& options);

/// A Client for resolveAddress() with the --timeout.
Result<std::unique_ptr<workload_api::Client>> connect(const CommonOptions& options);

}  // namespace lanyard::cli
