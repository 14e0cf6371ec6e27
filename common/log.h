// SPDX-License-Identifier: Apache-2.0
// Named spdlog loggers, one per component (STYLE.md §8): daemon, svid, attestor.<name>, ...
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "common/result.h"

namespace lanyard::log {

enum class Format { Text, Json };

/// Returns the logger called `name`, creating it (stderr, current level and format) on first use.
/// Thread-safe.
std::shared_ptr<spdlog::logger> get(const std::string& name);

/// The line formatter for `format`: "<level> <logger>: <message>", or one JSON object
/// {"level","logger","msg"} per line with the message escaped.
std::unique_ptr<spdlog::formatter> makeFormatter(Format format);

/// Sets level and format for every existing and future logger. `level` is one of
/// debug, info, warn, error.
Result<void> configure(const std::string& level, Format format);

}  // namespace lanyard::log
