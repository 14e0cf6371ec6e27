// SPDX-License-Identifier: Apache-2.0
// Helpers for the `lanyard` CLI tests: running the binary named by $LANYARD_CLI, reading files.
#pragma once

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "support/run.h"

namespace lanyard::testing {

using nlohmann::json;

/// `s` with newlines shown as "\\n", so INFO keeps the TAP stream one line per message.
inline std::string oneLine(std::string s) {
  for (size_t i = s.find('\n'); i != std::string::npos; i = s.find('\n', i + 2)) {
    s.replace(i, 1, "\\n");
  }
  return s;
}

/// The binary under test (meson sets LANYARD_CLI).
inline std::string lanyard() {
  const char* p = std::getenv("LANYARD_CLI");
  REQUIRE(p != nullptr);
  return p;
}

/// Runs `lanyard args…` (stderr folded into the output).
inline RunResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), lanyard());
  return run(args);
}

/// The output as JSON; fails the test when it is not.
inline json parseJson(const RunResult& r) {
  INFO(oneLine(r.output));
  auto doc = json::parse(r.output, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// RFC 3339 UTC, as the CLI prints times.
inline std::string rfc3339(SysTime t) {
  std::time_t s = unixSeconds(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace lanyard::testing
