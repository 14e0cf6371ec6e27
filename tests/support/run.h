// SPDX-License-Identifier: Apache-2.0
// Runs an external verifier (openssl CLI, /usr/bin/python3) and captures its exit code and
// combined output, for the independent checks the suite makes of what we mint.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace lanyard::testing {

struct RunResult {
  int exitCode = -1;
  std::string output;
};

/// Quotes one argument for /bin/sh.
inline std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

/// Runs argv through /bin/sh with stderr folded into stdout.
inline RunResult run(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) {
    cmd += shellQuote(a) + " ";
  }
  cmd += "2>&1";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    r.output.append(buf, n);
  }
  int status = ::pclose(p);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// The source tree root (set by meson for every test).
inline std::string sourceDir() {
  const char* d = std::getenv("LANYARD_SOURCE_DIR");
  return d != nullptr ? d : ".";
}

/// The Python interpreter with the Debian packages (cryptography, jwt, grpc).
inline std::string python() {
  const char* p = std::getenv("LANYARD_PYTHON");
  return p != nullptr ? p : "/usr/bin/python3";
}

}  // namespace lanyard::testing
