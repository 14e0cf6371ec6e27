// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/attestor_set.cpp: merging, skipping a failed attestor, the all-failed
// case, and building the set from the attestors: config node.
#include "attestors/attestor_set.h"

#include <catch2/catch.hpp>

#include "attestors/registry.h"
#include "support/result_matchers.h"

namespace lanyard::attestors {
namespace {

// An attestor that answers with fixed selectors or a fixed error.
class FixedAttestor final : public Attestor {
 public:
  FixedAttestor(std::string name, Result<std::vector<Selector>> answer)
      : name_(std::move(name)), answer_(std::move(answer)) {}
  std::string_view name() const override { return name_; }
  Result<std::vector<Selector>> attest(const Caller&, Deadline) const override { return answer_; }

 private:
  std::string name_;
  Result<std::vector<Selector>> answer_;
};

std::unique_ptr<Attestor> answering(std::string name, std::vector<Selector> selectors) {
  return std::make_unique<FixedAttestor>(std::move(name), std::move(selectors));
}

std::unique_ptr<Attestor> failing(std::string name, std::string why) {
  return std::make_unique<FixedAttestor>(std::move(name), fail(Code::Unavailable, std::move(why)));
}

AttestorSet setOf(std::unique_ptr<Attestor> a, std::unique_ptr<Attestor> b) {
  std::vector<std::unique_ptr<Attestor>> all;
  all.push_back(std::move(a));
  all.push_back(std::move(b));
  return AttestorSet(std::move(all));
}

const Caller kCaller{123, 1000, 1000, -1};

Deadline soon() { return std::chrono::steady_clock::now() + std::chrono::seconds(5); }

Result<std::unique_ptr<Attestor>> makeFake(const YAML::Node&) {
  return std::unique_ptr<Attestor>(
      std::make_unique<FixedAttestor>("fake", std::vector<Selector>{{"fake", "seen"}}));
}

TEST_CASE("the set merges selectors sorted and without duplicates", "[attestors][set]") {
  auto set = setOf(answering("unix", {{"unix", "uid:1000"}, {"unix", "gid:1000"}}),
                   answering("other", {{"unix", "uid:1000"}, {"docker", "label:a"}}));
  auto got = set.attest(kCaller, soon());
  REQUIRE(got);
  CHECK(*got ==
        std::vector<Selector>{{"docker", "label:a"}, {"unix", "gid:1000"}, {"unix", "uid:1000"}});
}

TEST_CASE("an attestor that fails is skipped and the others still count", "[attestors][set]") {
  auto set = setOf(failing("docker", "attesting pid 123: no runtime"),
                   answering("unix", {{"unix", "uid:1000"}}));
  auto got = set.attest(kCaller, soon());
  REQUIRE(got);
  CHECK(*got == std::vector<Selector>{{"unix", "uid:1000"}});
}

TEST_CASE("the set is unavailable when every attestor fails", "[attestors][set]") {
  auto set = setOf(failing("docker", "no runtime"), failing("unix", "process exited"));
  auto got = set.attest(kCaller, soon());
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::Unavailable);
  CHECK(got.error().message ==
        "attesting pid 123: every attestor failed (docker: no runtime; unix: process exited)");
}

TEST_CASE("an attestor with nothing to say is not a failure", "[attestors][set]") {
  auto set = setOf(answering("docker", {}), failing("unix", "process exited"));
  auto got = set.attest(kCaller, soon());
  REQUIRE(got);
  CHECK(got->empty());
}

TEST_CASE("without an attestors key the set is the unix attestor alone", "[attestors][set]") {
  SECTION("absent") {
    YAML::Node root = YAML::Load("trust_domain: example.org");
    auto set = AttestorSet::fromConfig(root["attestors"]);
    REQUIRE(set);
    CHECK(set->names() == std::vector<std::string>{"unix"});
  }
  SECTION("null") {
    auto set = AttestorSet::fromConfig(YAML::Load("attestors:")["attestors"]);
    REQUIRE(set);
    CHECK(set->names() == std::vector<std::string>{"unix"});
  }
}

TEST_CASE("the attestors map enables each attestor it names", "[attestors][set]") {
  ScopedFactoryOverride fake("fake", makeFake);
  auto set = AttestorSet::fromConfig(YAML::Load("unix: {}\nfake:\n"));
  REQUIRE(set);
  CHECK(set->names() == std::vector<std::string>{"unix", "fake"});
}

TEST_CASE("bad attestors config names the attestor and the key", "[attestors][set]") {
  SECTION("unknown attestor") {
    auto set = AttestorSet::fromConfig(YAML::Load("unix: {}\nnope: {}"));
    REQUIRE_FALSE(set);
    CHECK(set.error().code == Code::NotFound);
    CHECK_THAT(set.error().message,
               Catch::StartsWith("configuring attestor \"nope\": unknown attestor (known: "));
  }
  SECTION("bad key of a known attestor") {
    auto set = AttestorSet::fromConfig(YAML::Load("unix:\n  workload_hash: perhaps\n"));
    REQUIRE_FALSE(set);
    CHECK(set.error().code == Code::InvalidArgument);
    CHECK(set.error().message ==
          "configuring attestor \"unix\": workload_hash (line 2): "
          "want true or false, got \"perhaps\"");
  }
  SECTION("not a map") {
    auto set = AttestorSet::fromConfig(YAML::Load("[unix]"));
    REQUIRE_FALSE(set);
    CHECK(set.error().message ==
          "reading attestors (line 1): want a map from attestor name to its settings, got a list");
  }
  SECTION("an empty map") {
    auto set = AttestorSet::fromConfig(YAML::Load("{}"));
    REQUIRE_FALSE(set);
    CHECK_THAT(set.error().message, Catch::Contains("no attestor enabled"));
  }
}

}  // namespace
}  // namespace lanyard::attestors
