// SPDX-License-Identifier: Apache-2.0
// Parsing and printing of configuration durations: one positive integer and one unit.
#include "daemon/duration.h"

#include <array>
#include <cstdint>
#include <string>

#include "common/text.h"

namespace lanyard::daemon {
namespace {

struct Unit {
  char suffix;
  int64_t seconds;
};

// Largest first, so that formatDuration() picks the largest unit that divides.
constexpr std::array<Unit, 4> kUnits = {{{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};

Unexpected bad(std::string why) { return fail(Code::InvalidArgument, std::move(why)); }

const Unit* unitFor(char c) {
  for (const Unit& u : kUnits) {
    if (u.suffix == c) {
      return &u;
    }
  }
  return nullptr;
}

}  // namespace

Result<Seconds> parseDuration(std::string_view text) {
  if (text.empty()) {
    return bad("empty duration (write e.g. 90s, 5m, 1h or 7d)");
  }
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return bad("duration " + text::quote(text, 64) +
               " does not start with a number (write e.g. 5m)");
  }
  if (digits == text.size()) {
    return bad("missing unit (s, m, h or d) after " + text::quote(text, 64));
  }
  const Unit* unit = unitFor(text[digits]);
  if (unit == nullptr || digits + 1 != text.size()) {
    return bad("duration " + text::quote(text, 64) +
               " must be one number and one unit: s, m, h or d (e.g. 90m, not 1h30m)");
  }
  // Accumulate with an early cap so that no digit string can overflow int64_t.
  const int64_t maxSeconds = kMaxDuration.count();
  int64_t n = 0;
  for (size_t i = 0; i < digits; ++i) {
    n = n * 10 + (text[i] - '0');
    if (n > maxSeconds) {
      break;
    }
  }
  if (n == 0) {
    return bad("duration " + text::quote(text, 64) + " must be positive");
  }
  if (n > maxSeconds / unit->seconds) {
    return bad("duration " + text::quote(text, 64) + " is longer than the maximum of " +
               formatDuration(kMaxDuration));
  }
  return Seconds(n * unit->seconds);
}

std::string formatDuration(Seconds d) {
  const int64_t s = d.count();
  for (const Unit& u : kUnits) {
    if (s % u.seconds == 0) {
      return std::to_string(s / u.seconds) + u.suffix;
    }
  }
  return std::to_string(s) + "s";
}

}  // namespace lanyard::daemon
