// SPDX-License-Identifier: Apache-2.0
// Tests for workload_api/client/backoff.cpp: go-spiffe's linear backoff (WAPI-16).
#include "workload_api/client/backoff.h"

#include <catch2/catch.hpp>

namespace lanyard::workload_api {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("the backoff grows 1 s, 2 s, 3 s … and stays at 30 s (WAPI-16)", "[client][backoff]") {
  Backoff b(seconds(1), seconds(30));
  for (int i = 1; i <= 30; ++i) {
    CHECK(b.next() == seconds(i));
  }
  CHECK(b.next() == seconds(30));
  CHECK(b.next() == seconds(30));
}

TEST_CASE("the backoff starts over after reset (a received message, WAPI-16)",
          "[client][backoff]") {
  Backoff b(seconds(1), seconds(30));
  (void)b.next();
  (void)b.next();
  b.reset();
  CHECK(b.next() == seconds(1));
  CHECK(b.next() == seconds(2));
}

TEST_CASE("a cap below two steps holds from the second step", "[client][backoff]") {
  Backoff b(milliseconds(40), milliseconds(70));
  CHECK(b.next() == milliseconds(40));
  CHECK(b.next() == milliseconds(70));
  CHECK(b.next() == milliseconds(70));
}

}  // namespace
}  // namespace lanyard::workload_api
