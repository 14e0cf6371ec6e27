// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/unix/config.cpp through the registered "unix" factory: one valid config
// (its effect seen by attesting this process), then one broken config per key with its error
// text (Envoy config_test.cc style). The test never names config.cpp's symbols, so that
// registry_test.cpp still proves link_whole:.
#include <unistd.h>

#include <algorithm>

#include <catch2/catch.hpp>

#include "attestors/registry.h"
#include "support/result_matchers.h"

namespace lanyard::attestors {
namespace {

std::unique_ptr<Attestor> mustCreate(const std::string& yaml) {
  auto made = Registry::create("unix", YAML::Load(yaml));
  INFO(yaml);
  REQUIRE(made);
  return std::move(made).value();
}

// The error text of configuring the unix attestor with `yaml`.
std::string errorOf(const std::string& yaml) {
  auto made = Registry::create("unix", YAML::Load(yaml));
  INFO(yaml);
  REQUIRE_FALSE(made);
  CHECK(made.error().code == Code::InvalidArgument);
  return made.error().message;
}

Result<std::vector<Selector>> attestSelf(const Attestor& attestor) {
  return attestor.attest({::getpid(), ::geteuid(), ::getegid(), -1},
                         std::chrono::steady_clock::now() + std::chrono::seconds(30));
}

bool hasKind(const std::vector<Selector>& selectors, const std::string& kind) {
  return std::any_of(selectors.begin(), selectors.end(),
                     [&](const Selector& s) { return s.value.starts_with(kind + ":"); });
}

TEST_CASE("a valid unix config sets every key", "[attestors][unix][config]") {
  SECTION("path and digest off") {
    auto attestor = mustCreate(
        "discover_workload_path: false\nworkload_hash: false\nworkload_size_limit: 1048576\n");
    auto got = attestSelf(*attestor);
    REQUIRE(got);
    CHECK(hasKind(*got, "uid"));
    CHECK_FALSE(hasKind(*got, "path"));
    CHECK_FALSE(hasKind(*got, "sha256"));
  }
  SECTION("path and digest on, no size limit") {
    auto attestor =
        mustCreate("discover_workload_path: true\nworkload_hash: true\nworkload_size_limit: 0\n");
    auto got = attestSelf(*attestor);
    REQUIRE(got);
    CHECK(hasKind(*got, "path"));
    CHECK(hasKind(*got, "sha256"));
  }
  SECTION("a size limit below this test binary") {
    auto got = attestSelf(*mustCreate("workload_size_limit: 1"));
    REQUIRE_FALSE(got);
    CHECK_THAT(got.error().message, Catch::EndsWith("bytes, over workload_size_limit 1"));
  }
}

TEST_CASE("an empty unix config means the defaults", "[attestors][unix][config]") {
  for (const char* yaml : {"{}", "~", ""}) {
    auto got = attestSelf(*mustCreate(yaml));
    REQUIRE(got);
    CHECK(hasKind(*got, "path"));
    CHECK(hasKind(*got, "sha256"));
  }
}

TEST_CASE("a broken unix config names the attestor and the key", "[attestors][unix][config]") {
  const std::string prefix = "configuring attestor \"unix\": ";
  SECTION("discover_workload_path") {
    CHECK(errorOf("discover_workload_path: sometimes") ==
          prefix + "discover_workload_path (line 1): want true or false, got \"sometimes\"");
  }
  SECTION("workload_hash") {
    CHECK(errorOf("workload_size_limit: 10\nworkload_hash: [sha256]") ==
          prefix + "workload_hash (line 2): want true or false, got a list");
  }
  SECTION("workload_size_limit negative") {
    CHECK(errorOf("workload_size_limit: -1") ==
          prefix +
              "workload_size_limit (line 1): want a size in bytes (an integer >= 0; 0 = no "
              "limit), got \"-1\"");
  }
  SECTION("workload_size_limit with a unit") {
    CHECK_THAT(errorOf("workload_size_limit: 64MiB"),
               Catch::StartsWith(prefix + "workload_size_limit (line 1): want a size in bytes") &&
                   Catch::EndsWith("got \"64MiB\""));
  }
  SECTION("an unknown key") {
    CHECK(errorOf("discover_workload_path: true\nworkload_sizelimit: 5") ==
          prefix +
              "unknown key \"workload_sizelimit\" (line 2) (known: discover_workload_path, "
              "workload_hash, workload_size_limit)");
  }
  SECTION("settings that are not a map") {
    CHECK(errorOf("[discover_workload_path]") ==
          prefix + "settings (line 1): want a map of settings, got a list");
  }
}

}  // namespace
}  // namespace lanyard::attestors
