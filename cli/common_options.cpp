// SPDX-License-Identifier: Apache-2.0
// The shared --socket/--timeout/--output options and how they turn into a Workload API client.
#include "cli/common_options.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/text.h"
#include "daemon/config.h"
#include "daemon/duration.h"
#include "workload_api/client/endpoint_address.h"

namespace lanyard::cli {

void addCommonOptions(CLI::App& cmd, CommonOptions& options, bool withOutput) {
  cmd.add_option("--socket", options.socket,
                 "Workload API endpoint: a socket path, unix:///path or tcp://IP:port\n"
                 "(default: $SPIFFE_ENDPOINT_SOCKET, else the socket lanyardd uses\n"
                 "without --config)");
  cmd.add_option("--timeout", options.timeout, "Deadline of each call, e.g. 5s, 500ms, 1m")
      ->capture_default_str();
  if (withOutput) {
    cmd.add_option("--output", options.output, "Output format: text, or json for scripts")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
  }
}

Result<std::chrono::milliseconds> parseTimeout(const std::string& text) {
  std::string context = "parsing --timeout " + text::quote(text);
  if (text.size() > 2 && text.ends_with("ms")) {
    std::string digits = text.substr(0, text.size() - 2);
    if (digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos &&
        std::stol(digits) > 0) {
      return std::chrono::milliseconds(std::stol(digits));
    }
    return fail(Code::InvalidArgument, context + ": expected a positive number of milliseconds");
  }
  auto seconds = daemon::parseDuration(text);
  if (!seconds) {
    return fail(seconds.error().wrap(context));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*seconds);
}

std::string resolveAddress(const CommonOptions& options) {
  if (!options.socket.empty()) {
    return options.socket;
  }
  if (const char* env = std::getenv(workload_api::kEndpointSocketEnv);
      env != nullptr && *env != '\0') {
    return env;
  }
  return daemon::embeddedDefault(::getuid()).socketPath;
}

Result<std::unique_ptr<workload_api::Client>> connect(const CommonOptions& options) {
  LANYARD_TRY(auto timeout, parseTimeout(options.timeout));
  return workload_api::Client::create(resolveAddress(options), {.timeout = timeout});
}

}  // namespace lanyard::cli
