// SPDX-License-Identifier: Apache-2.0
// Tests for svid/encoding.cpp: RFC 4648 vectors, round trips and strict rejection.
#include "svid/encoding.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

namespace lanyard::svid {
namespace {

using namespace std::string_literals;

struct Vector {
  std::string data;
  std::string padded;
  std::string url;
};

// RFC 4648 §10, plus bytes that differ between the two alphabets (62 and 63).
const Vector kVectors[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xff", "+/8=", "-_8"},
    {"\xfb\xef\xbe", "++++", "----"},
    {"\xff\xff\xff", "////", "____"},
    {"\0\0\0"s, "AAAA", "AAAA"},
    {"\0"s, "AA==", "AA"},
};

std::string randomBytes(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(n, '\0');
  for (auto& c : s) {
    c = static_cast<char>(byte(rng));
  }
  return s;
}

void requireRejected(const Result<std::string>& r, std::string_view want) {
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Code::InvalidArgument);
  CHECK_THAT(r.error().message, Catch::Contains(std::string(want)));
}

TEST_CASE("base64 encodes the rfc 4648 test vectors", "[svid][encoding]") {
  for (const auto& v : kVectors) {
    CAPTURE(v.padded);
    CHECK(base64Encode(v.data) == v.padded);
    auto decoded = base64Decode(v.padded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == v.data);
  }
}

TEST_CASE("base64url encodes the rfc 4648 test vectors without padding", "[svid][encoding]") {
  for (const auto& v : kVectors) {
    CAPTURE(v.url);
    CHECK(base64UrlEncode(v.data) == v.url);
    auto decoded = base64UrlDecode(v.url);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == v.data);
  }
}

TEST_CASE("random bytes of every length from 0 to 100 round-trip", "[svid][encoding]") {
  std::mt19937 rng(20240601);
  for (size_t n = 0; n <= 100; ++n) {
    for (int rep = 0; rep < 8; ++rep) {
      std::string data = randomBytes(rng, n);
      CAPTURE(n, rep);
      std::string b64 = base64Encode(data);
      CHECK(b64.size() == (n + 2) / 3 * 4);
      auto back = base64Decode(b64);
      REQUIRE(back.has_value());
      CHECK(*back == data);

      std::string url = base64UrlEncode(data);
      CHECK(url.size() == (n * 4 + 2) / 3);
      CHECK(url.find_first_of("+/=") == std::string::npos);
      auto urlBack = base64UrlDecode(url);
      REQUIRE(urlBack.has_value());
      CHECK(*urlBack == data);
    }
  }
}

TEST_CASE("base64 decode rejects missing, extra and misplaced padding", "[svid][encoding]") {
  SECTION("missing") { requireRejected(base64Decode("Zg"), "not a multiple of 4"); }
  SECTION("missing one") { requireRejected(base64Decode("Zm8"), "not a multiple of 4"); }
  SECTION("extra") { requireRejected(base64Decode("Zg==="), "not a multiple of 4"); }
  SECTION("extra after a full quantum") {
    requireRejected(base64Decode("Zm9v===="), "too much padding");
  }
  SECTION("three") { requireRejected(base64Decode("Z==="), "too much padding"); }
  SECTION("only padding") { requireRejected(base64Decode("===="), "too much padding"); }
  SECTION("in the middle") { requireRejected(base64Decode("Zg==Zg=="), "unexpected padding"); }
  SECTION("at the start") { requireRejected(base64Decode("=Zg="), "offset 0"); }
  SECTION("between data") { requireRejected(base64Decode("Zg=a"), "offset 2"); }
}

TEST_CASE("base64 decode rejects non-zero trailing bits", "[svid][encoding]") {
  requireRejected(base64Decode("Zh=="), "non-zero trailing bits");
  requireRejected(base64Decode("Zm9="), "non-zero trailing bits");
}

TEST_CASE("base64 decode rejects whitespace and bytes outside the alphabet", "[svid][encoding]") {
  requireRejected(base64Decode("Zm9v\nYmFy"), "not a multiple of 4");
  requireRejected(base64Decode("Zm9v\r\nYg"), "byte 0x0d at offset 4");
  requireRejected(base64Decode("Zm 9"), "' ' at offset 2");
  requireRejected(base64Decode("Zm9-"), "'-' at offset 3");
  requireRejected(base64Decode("__8="), "'_' at offset 0");
  requireRejected(base64Decode("Zm9\x80"), "byte 0x80");
  requireRejected(base64Decode("Zm9v\0\0\0\0"s), "byte 0x00 at offset 4");
}

TEST_CASE("base64url decode rejects any padding", "[svid][encoding]") {
  requireRejected(base64UrlDecode("Zg=="), "unexpected padding '=' at offset 2");
  requireRejected(base64UrlDecode("Zm8="), "unexpected padding");
  requireRejected(base64UrlDecode("Zg="), "unexpected padding");
  requireRejected(base64UrlDecode("===="), "unexpected padding");
}

TEST_CASE("base64url decode rejects a length of 1 mod 4", "[svid][encoding]") {
  requireRejected(base64UrlDecode("Z"), "1 mod 4");
  requireRejected(base64UrlDecode("Zm9vY"), "1 mod 4");
}

TEST_CASE("base64url decode rejects non-zero trailing bits", "[svid][encoding]") {
  // "Zg" is the only encoding of "f"; "Zh".."Zv" differ only in the unused low bits.
  requireRejected(base64UrlDecode("Zh"), "non-zero trailing bits in last character at offset 1");
  requireRejected(base64UrlDecode("Zv"), "non-zero trailing bits");
  requireRejected(base64UrlDecode("Zm9"), "non-zero trailing bits");
  requireRejected(base64UrlDecode("Zm9vZm9"), "offset 6");
  CHECK(base64UrlDecode("Zm8").has_value());
}

TEST_CASE("base64url decode rejects the standard alphabet and whitespace", "[svid][encoding]") {
  requireRejected(base64UrlDecode("+/8"), "'+' at offset 0");
  requireRejected(base64UrlDecode("Zm9v/w"), "'/' at offset 4");
  requireRejected(base64UrlDecode("Zm9v Yg"), "' ' at offset 4");
  requireRejected(base64UrlDecode("Zm9v\tYmF"), "byte 0x09");
  requireRejected(base64UrlDecode("Zm.v"), "'.' at offset 2");
}

TEST_CASE("every single byte outside the alphabet is rejected", "[svid][encoding]") {
  for (int b = 0; b < 256; ++b) {
    char c = static_cast<char>(b);
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    std::string quantum = std::string("AAA") + c;
    CAPTURE(b);
    CHECK(base64Decode(quantum).has_value() == (alnum || c == '+' || c == '/' || c == '='));
    CHECK(base64UrlDecode(quantum).has_value() == (alnum || c == '-' || c == '_'));
  }
}

}  // namespace
}  // namespace lanyard::svid
