// SPDX-License-Identifier: Apache-2.0
// Small printing helpers shared by the `lanyard` commands: timestamps and JSON documents.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace lanyard::cli {

/// RFC 3339 in UTC with seconds: "2026-07-01T12:00:00Z".
std::string rfc3339(SysTime t);

/// Writes `doc` to stdout, indented, with a final newline; `compact` gives one line (for
/// line-per-event output such as `api watch`). Flushes stdout.
void printJson(const nlohmann::json& doc, bool compact = false);

/// Writes `text` to stdout and flushes.
void printText(const std::string& text);

}  // namespace lanyard::cli
