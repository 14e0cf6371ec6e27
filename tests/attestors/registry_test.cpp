// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/registry.cpp: which attestors are linked in (link_whole: works), lookup
// errors, and the test override hook. (Registering a name twice aborts, which cannot be
// tested in-process.)
#include "attestors/registry.h"

#include <algorithm>

#include <catch2/catch.hpp>

#include "attestors/unix/unix_process_attestor.h"
#include "support/result_matchers.h"

namespace lanyard::attestors {
namespace {

class NamedAttestor final : public Attestor {
 public:
  std::string_view name() const override { return "fake"; }
  Result<std::vector<Selector>> attest(const Caller&, Deadline) const override {
    return std::vector<Selector>{{"fake", "yes"}};
  }
};

Result<std::unique_ptr<Attestor>> makeFake(const YAML::Node&) {
  return std::unique_ptr<Attestor>(std::make_unique<NamedAttestor>());
}

Result<std::unique_ptr<Attestor>> makeBroken(const YAML::Node&) {
  return fail(Code::InvalidArgument, "level: want a number");
}

bool registered(const std::string& name) {
  auto names = Registry::registeredNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST_CASE("the unix attestor registers itself when linked whole", "[attestors][registry]") {
  // Nothing in this test references attestors/unix/config.cpp's registrar: only link_whole:
  // keeps it in the binary.
  CHECK(registered("unix"));
  auto names = Registry::registeredNames();
  CHECK(std::is_sorted(names.begin(), names.end()));
}

TEST_CASE("creating a registered attestor runs its factory", "[attestors][registry]") {
  auto made = Registry::create("unix", YAML::Node());
  REQUIRE(made);
  CHECK((*made)->name() == "unix");
  CHECK(dynamic_cast<unix_process::UnixProcessAttestor*>(made->get()) != nullptr);
}

TEST_CASE("creating an unknown attestor names it and lists the known ones",
          "[attestors][registry]") {
  auto made = Registry::create("nope", YAML::Node());
  REQUIRE_FALSE(made);
  CHECK(made.error().code == Code::NotFound);
  CHECK_THAT(made.error().message,
             Catch::StartsWith("configuring attestor \"nope\": unknown attestor (known: "));
  CHECK_THAT(made.error().message, Catch::Contains("unix"));
}

TEST_CASE("a factory's error is prefixed with the attestor's name", "[attestors][registry]") {
  ScopedFactoryOverride broken("broken", makeBroken);
  auto made = Registry::create("broken", YAML::Node());
  REQUIRE_FALSE(made);
  CHECK(made.error().code == Code::InvalidArgument);
  CHECK(made.error().message == "configuring attestor \"broken\": level: want a number");
}

TEST_CASE("a test can swap in a factory for the scope of an override", "[attestors][registry]") {
  SECTION("replacing a registered name, then restoring it") {
    {
      ScopedFactoryOverride swap("unix", makeFake);
      auto made = Registry::create("unix", YAML::Node());
      REQUIRE(made);
      CHECK((*made)->name() == "fake");
    }
    auto made = Registry::create("unix", YAML::Node());
    REQUIRE(made);
    CHECK((*made)->name() == "unix");
  }
  SECTION("adding a new name, then removing it") {
    {
      ScopedFactoryOverride add("fake", makeFake);
      CHECK(registered("fake"));
      CHECK(Registry::create("fake", YAML::Node()));
    }
    CHECK_FALSE(registered("fake"));
    CHECK(Registry::create("fake", YAML::Node()).error().code == Code::NotFound);
  }
}

}  // namespace
}  // namespace lanyard::attestors
