// SPDX-License-Identifier: Apache-2.0
// Timestamps and JSON printing for the `lanyard` commands.
#include "cli/output.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace lanyard::cli {

std::string rfc3339(SysTime t) {
  std::time_t seconds = unixSeconds(t);
  std::tm tm{};
  if (::gmtime_r(&seconds, &tm) == nullptr) {
    return "invalid-time";
  }
  char buf[32];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

void printJson(const nlohmann::json& doc, bool compact) {
  // Replace invalid UTF-8 (from a hostile server) rather than throwing from dump().
  std::string text =
      doc.dump(compact ? -1 : 2, ' ', false, nlohmann::json::error_handler_t::replace);
  printText(text + "\n");
}

void printText(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace lanyard::cli
