// SPDX-License-Identifier: Apache-2.0
// Durations as the configuration file writes them ("90s", "5m", "1h", "7d").
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace lanyard::daemon {

/// Longest duration accepted: 100 years, far below where SysTime arithmetic would overflow.
inline constexpr Seconds kMaxDuration{100LL * 365 * 24 * 3600};

/// Parses a positive integer followed by one unit: s (seconds), m (minutes), h (hours) or
/// d (days). No sign, no spaces, no fractions, no combined units ("1h30m": write "90m").
/// InvalidArgument with the bare reason ("missing unit (s, m, h or d) after \"90\"") when the
/// text is malformed, zero or longer than kMaxDuration. Pure; thread-safe.
Result<Seconds> parseDuration(std::string_view text);

/// The shortest text parseDuration() reads back as `d`: the largest unit that divides it
/// ("1h", "90m", "7d"). `d` must be positive.
std::string formatDuration(Seconds d);

}  // namespace lanyard::daemon
