// SPDX-License-Identifier: Apache-2.0
// A minimal HTTP/1.0 GET for `lanyard healthcheck --http`: lanyardd's /ready on its health
// listener (docs/metrics.md), with one deadline for the whole exchange.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace lanyard::cli {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

/// GETs `path` from `address` ("host:port" or "[v6]:port"). Unavailable naming the address
/// when it cannot connect or the answer is not HTTP; DeadlineExceeded after `timeout`.
Result<HttpAnswer> httpGet(const std::string& address, const std::string& path,
                           std::chrono::milliseconds timeout);

}  // namespace lanyard::cli
