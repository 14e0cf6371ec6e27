// SPDX-License-Identifier: Apache-2.0
// Tests for common/result.h: values, errors, LANYARD_TRY propagation.
#include "common/result.h"

#include <memory>

#include <catch2/catch.hpp>

namespace lanyard {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) {
    return fail(Code::InvalidArgument, "halving " + std::to_string(x) + ": odd");
  }
  return x / 2;
}

Result<int> quarter(int x) {
  LANYARD_TRY(int h, half(x));
  LANYARD_TRY(int q, half(h));
  return q;
}

Result<void> check(bool ok) {
  if (!ok) {
    return fail(Code::PermissionDenied, "checking: denied");
  }
  return {};
}

Result<int> viaVoid(bool ok) {
  LANYARD_TRY_VOID(check(ok));
  return 1;
}

TEST_CASE("a result holds a value or an error", "[common][result]") {
  auto ok = half(4);
  REQUIRE(ok);
  CHECK(*ok == 2);
  auto bad = half(3);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Code::InvalidArgument);
  CHECK(bad.error().message == "halving 3: odd");
}

TEST_CASE("LANYARD_TRY returns the first error and binds values otherwise", "[common][result]") {
  CHECK(*quarter(8) == 2);
  auto r = quarter(6);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "halving 3: odd");
  CHECK(*viaVoid(true) == 1);
  CHECK(viaVoid(false).error().code == Code::PermissionDenied);
}

TEST_CASE("results carry move-only values", "[common][result]") {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  std::unique_ptr<int> p = std::move(r).value();
  CHECK(*p == 7);
}

TEST_CASE("errors wrap with context and codes have canonical names", "[common][result]") {
  Error e{Code::NotFound, "no such file"};
  CHECK(e.wrap("loading config").message == "loading config: no such file");
  CHECK(std::string(codeName(Code::Unavailable)) == "unavailable");
  CHECK(static_cast<int>(Code::PermissionDenied) == 7);  // mirrors grpc::StatusCode
}

}  // namespace
}  // namespace lanyard
