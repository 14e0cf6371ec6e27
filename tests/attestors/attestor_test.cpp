// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/attestor.cpp: selector spelling, parsing and ordering.
#include "attestors/attestor.h"

#include <catch2/catch.hpp>

#include "support/result_matchers.h"

namespace lanyard::attestors {
namespace {

TEST_CASE("a selector is written as type colon value", "[attestors][selector]") {
  CHECK(Selector{"unix", "uid:1000"}.str() == "unix:uid:1000");
}

TEST_CASE("parsing a selector splits at the first colon only", "[attestors][selector]") {
  auto s = parseSelector("unix:path:/usr/bin/a:b");
  REQUIRE(s);
  CHECK(s->type == "unix");
  CHECK(s->value == "path:/usr/bin/a:b");
  CHECK(parseSelector("k8s:ns")->value == "ns");
}

TEST_CASE("parsing a selector rejects a missing type or value", "[attestors][selector]") {
  SECTION("no colon") {
    auto s = parseSelector("unix");
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Code::InvalidArgument);
    CHECK(s.error().message == "parsing selector \"unix\": want type:value");
  }
  SECTION("empty type") {
    CHECK(parseSelector(":uid:1").error().message == "parsing selector \":uid:1\": empty type");
  }
  SECTION("empty value") {
    CHECK(parseSelector("unix:").error().message == "parsing selector \"unix:\": empty value");
  }
}

TEST_CASE("selectors order by type then value", "[attestors][selector]") {
  CHECK(Selector{"a", "z"} < Selector{"b", "a"});
  CHECK(Selector{"unix", "gid:1"} < Selector{"unix", "uid:1"});
  CHECK_FALSE(Selector{"unix", "uid:1"} < Selector{"unix", "uid:1"});
  CHECK(Selector{"unix", "uid:1"} == Selector{"unix", "uid:1"});
}

}  // namespace
}  // namespace lanyard::attestors
