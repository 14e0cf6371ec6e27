// SPDX-License-Identifier: Apache-2.0
// Tests for daemon/duration.cpp: the "90s", "5m", "1h", "7d" durations of the config file.
#include "daemon/duration.h"

#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"

namespace lanyard::daemon {
namespace {

void requireRejected(const std::string& text, const std::string& message) {
  auto d = parseDuration(text);
  INFO(text);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code == Code::InvalidArgument);
  CHECK(d.error().message == message);
}

TEST_CASE("durations take one integer and one unit of s, m, h or d", "[daemon][duration]") {
  CHECK(parseDuration("90s").value() == Seconds(90));
  CHECK(parseDuration("5m").value() == Seconds(300));
  CHECK(parseDuration("1h").value() == Seconds(3600));
  CHECK(parseDuration("7d").value() == Seconds(7 * 86400));
  CHECK(parseDuration("0001h").value() == Seconds(3600));
}

TEST_CASE("malformed durations are rejected with a reason", "[daemon][duration]") {
  requireRejected("", "empty duration (write e.g. 90s, 5m, 1h or 7d)");
  requireRejected("3600", "missing unit (s, m, h or d) after \"3600\"");
  requireRejected("h", "duration \"h\" does not start with a number (write e.g. 5m)");
  requireRejected("-5m", "duration \"-5m\" does not start with a number (write e.g. 5m)");
  requireRejected(" 5m", "duration \" 5m\" does not start with a number (write e.g. 5m)");
  requireRejected("1h30m",
                  "duration \"1h30m\" must be one number and one unit: s, m, h or d "
                  "(e.g. 90m, not 1h30m)");
  requireRejected("5ms",
                  "duration \"5ms\" must be one number and one unit: s, m, h or d "
                  "(e.g. 90m, not 1h30m)");
  requireRejected("1.5h",
                  "duration \"1.5h\" must be one number and one unit: s, m, h or d "
                  "(e.g. 90m, not 1h30m)");
  requireRejected("5M",
                  "duration \"5M\" must be one number and one unit: s, m, h or d "
                  "(e.g. 90m, not 1h30m)");
  requireRejected("5 m",
                  "duration \"5 m\" must be one number and one unit: s, m, h or d "
                  "(e.g. 90m, not 1h30m)");
}

TEST_CASE("zero and absurdly long durations are rejected", "[daemon][duration]") {
  requireRejected("0", "missing unit (s, m, h or d) after \"0\"");
  requireRejected("0s", "duration \"0s\" must be positive");
  requireRejected("0d", "duration \"0d\" must be positive");
  CHECK(parseDuration("36500d").value() == kMaxDuration);
  requireRejected("36501d", "duration \"36501d\" is longer than the maximum of 36500d");
  // Twenty-nine digits would overflow int64_t if accumulated naively.
  requireRejected("99999999999999999999999999999s",
                  "duration \"99999999999999999999999999999s\" is longer than the maximum of "
                  "36500d");
}

TEST_CASE("control bytes in a bad duration are escaped in the message", "[daemon][duration]") {
  requireRejected(std::string("5\n", 2) + "m",
                  "duration \"5\\x0am\" must be one number and one unit: s, m, h or d "
                  "(e.g. 90m, not 1h30m)");
}

TEST_CASE("formatDuration picks the largest unit that divides and round-trips",
          "[daemon][duration]") {
  CHECK(formatDuration(Seconds(90)) == "90s");
  CHECK(formatDuration(Seconds(5400)) == "90m");
  CHECK(formatDuration(Seconds(3600)) == "1h");
  CHECK(formatDuration(Seconds(86400)) == "1d");
  CHECK(formatDuration(Seconds(25 * 3600)) == "25h");
  for (int64_t s : std::vector<int64_t>{1, 59, 60, 61, 3599, 7200, 86401, kMaxDuration.count()}) {
    INFO(s);
    CHECK(parseDuration(formatDuration(Seconds(s))).value() == Seconds(s));
  }
}

}  // namespace
}  // namespace lanyard::daemon
