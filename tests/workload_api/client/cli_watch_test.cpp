// SPDX-License-Identifier: Apache-2.0
// Tests for `lanyard api watch` (cli/api_watch.cpp): a background binary against the fake
// Workload API, its output lines, and how SIGINT, SIGTERM and a rejected request end it.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "fake_workload_api.h"
#include "support/temp_dir.h"

namespace lanyard::testing {
namespace {

/// A background `lanyard` whose output goes to a file.
class Background {
 public:
  Background(const std::vector<std::string>& args, const std::string& outFile) {
    std::vector<std::string> argv = args;
    argv.insert(argv.begin(), lanyard());
    std::vector<char*> cargs;
    for (auto& a : argv) {
      cargs.push_back(a.data());
    }
    cargs.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, outFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    REQUIRE(posix_spawn(&pid_, cargs[0], &actions, nullptr, cargs.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  /// Sends `sig` (0: none) and returns the exit code, or -1 when it does not exit within 3 s.
  int stop(int sig) {
    if (sig != 0) {
      ::kill(pid_, sig);
    }
    for (int i = 0; i < 300; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

/// Waits up to 3 s until `path` contains `n` lines holding `needle`.
bool waitForLines(const std::string& path, const std::string& needle, size_t n) {
  for (int i = 0; i < 300; ++i) {
    std::istringstream in(readFile(path));
    size_t count = 0;
    for (std::string line; std::getline(in, line);) {
      count += line.find(needle) != std::string::npos;
    }
    if (count >= n) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_CASE("watch prints a line per update and exits 0 on SIGINT or SIGTERM", "[cli][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  int sig = GENERATE(SIGINT, SIGTERM);
  std::string out = dir.file("watch.out");
  Background watch({"api", "watch", "--socket", server.address()}, out);
  REQUIRE(waitForLines(out, " update: spiffe://example.org/web (not after ", 1));
  auto rotated = server.ids.x509Response();
  rotated.mutable_svids()->SwapElements(0, 1);
  server.api.setX509(rotated);
  REQUIRE(waitForLines(out, " update: spiffe://example.org/db (not after ", 1));
  CHECK(watch.stop(sig) == 0);
  std::istringstream in(readFile(out));
  std::string first;
  std::getline(in, first);
  const std::string ts = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)";
  CHECK_THAT(first, Catch::Matches(ts + " update: spiffe://example.org/web \\(not after " + ts +
                                   "\\), spiffe://example.org/db \\(not after " + ts + "\\)"));
}

TEST_CASE("watch --output json prints one JSON object per line", "[cli][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  std::string out = dir.file("watch.out");
  Background watch({"api", "watch", "--socket", server.address(), "--output", "json"}, out);
  REQUIRE(waitForLines(out, "\"spiffe_id\":\"spiffe://example.org/web\"", 1));
  CHECK(watch.stop(SIGINT) == 0);
  std::istringstream in(readFile(out));
  std::string line;
  std::getline(in, line);
  auto doc = json::parse(line, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  CHECK(doc["svids"][0]["not_after"] == rfc3339(server.ids.web.notAfter));
  CHECK(doc.contains("time"));
}

TEST_CASE("watch exits 1 when the agent rejects the request (WAPI-16)", "[cli][watch]") {
  TempDir dir;
  FakeServer server(dir.path());
  server.api.failAll = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad request");
  std::string out = dir.file("watch.out");
  Background watch({"api", "watch", "--socket", server.address()}, out);
  CHECK(watch.stop(0) == 1);
  CHECK(readFile(out) == "lanyard: watching X.509-SVIDs from " + server.address() +
                             ": invalid argument: bad request\n");
}

}  // namespace
}  // namespace lanyard::testing
