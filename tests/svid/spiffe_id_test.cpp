// SPDX-License-Identifier: Apache-2.0
// Tests for svid/spiffe_id.cpp: every rule of spec/SPIFFE.md §1 (ID-1 … ID-9), both ways.
#include "svid/spiffe_id.h"

#include <string>
#include <string_view>

#include <catch2/catch.hpp>

namespace lanyard::svid {
namespace {

using namespace std::string_literals;

SpiffeId mustParse(std::string_view s) {
  auto r = SpiffeId::parse(s);
  INFO(s << ": " << (r ? "" : r.error().message));
  REQUIRE(r.has_value());
  return *r;
}

TrustDomain mustTd(std::string_view s) {
  auto r = TrustDomain::parse(s);
  INFO(s << ": " << (r ? "" : r.error().message));
  REQUIRE(r.has_value());
  return *r;
}

// Checks that `s` is rejected as a SPIFFE ID with a message containing `why`.
void requireIdRejected(std::string_view s, std::string_view why) {
  auto r = SpiffeId::parse(s);
  INFO(s);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Code::InvalidArgument);
  CHECK_THAT(r.error().message, Catch::StartsWith("parsing SPIFFE ID \""));
  CHECK_THAT(r.error().message, Catch::Contains(std::string(why)));
}

void requireTdRejected(std::string_view s, std::string_view why) {
  auto r = TrustDomain::parse(s);
  INFO(s);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Code::InvalidArgument);
  CHECK_THAT(r.error().message, Catch::StartsWith("parsing trust domain \""));
  CHECK_THAT(r.error().message, Catch::Contains(std::string(why)));
}

TEST_CASE("the valid test vectors of spec section 1 parse", "[svid][spiffe_id]") {
  struct Case {
    const char* id;
    const char* td;
    const char* path;
  };
  const Case cases[] = {
      {"spiffe://example.org", "example.org", ""},
      {"spiffe://example.org/ns/prod/sa/web", "example.org", "/ns/prod/sa/web"},
      {"spiffe://1.2.3.4/x", "1.2.3.4", "/x"},
      {"spiffe://td_1/a.b-c_D/...", "td_1", "/a.b-c_D/..."},
  };
  for (const auto& c : cases) {
    SpiffeId id = mustParse(c.id);
    CHECK(id.trustDomain().name() == c.td);
    CHECK(id.path() == c.path);
    CHECK(id.str() == c.id);
  }
}

TEST_CASE("the invalid test vectors of spec section 1 are rejected", "[svid][spiffe_id]") {
  requireIdRejected("spiffe://", "trust domain is empty");
  requireIdRejected("spiffe:///a", "trust domain is empty");
  requireIdRejected("spiffe://Example.org/a", "uppercase letter 'E'");
  requireIdRejected("spiffe://example.org/", "trailing '/'");
  requireIdRejected("spiffe://example.org//a", "empty path segment");
  requireIdRejected("spiffe://example.org/a/./b", "path segment \".\" is not allowed");
  requireIdRejected("spiffe://example.org/..", "path segment \"..\" is not allowed");
  requireIdRejected("spiffe://example.org:8080/a", "':' (a port is not allowed)");
  requireIdRejected("spiffe://u@example.org/a", "'@' (userinfo is not allowed)");
  requireIdRejected("spiffe://example.org/a%20b", "'%' (percent-encoding is not allowed)");
  requireIdRejected("spiffe://example.org/a?x=1", "'?' (a query is not allowed)");
  requireIdRejected("spiffe://example.org#f", "'#' (a fragment is not allowed)");
  requireIdRejected("https://example.org/a", "scheme must be \"spiffe://\"");
  requireIdRejected("SPIFFE://example.org/a", "scheme must be \"spiffe://\"");
  requireIdRejected("", "empty string");
}

TEST_CASE("an error message names the input and the rule", "[svid][spiffe_id]") {
  auto r = SpiffeId::parse("spiffe://x//a");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "parsing SPIFFE ID \"spiffe://x//a\": empty path segment");

  auto bin = SpiffeId::parse("spiffe://x/a\n\"b\\");
  REQUIRE_FALSE(bin.has_value());
  CHECK(bin.error().message ==
        "parsing SPIFFE ID \"spiffe://x/a\\x0a\\\"b\\\\\": path contains invalid character "
        "byte 0x0a");

  auto huge = SpiffeId::parse("spiffe://" + std::string(100000, 'A'));
  REQUIRE_FALSE(huge.has_value());
  CHECK(huge.error().message.size() < 400);
}

TEST_CASE("the lowercase spiffe scheme is accepted (ID-1)", "[svid][spiffe_id]") {
  CHECK(mustParse("spiffe://example.org/a").str() == "spiffe://example.org/a");
}

TEST_CASE("a scheme that is not exactly spiffe:// is rejected (ID-1)", "[svid][spiffe_id]") {
  for (const char* s :
       {"spiffe:/x/y", "spiffe:x/y", "Spiffe://x/y", "SPIFFE://x/y", "spiffe//x/y", " spiffe://x/y",
        "spiffe", "x", "spiffe:", "urn:spiffe://x", "http://x/y"}) {
    requireIdRejected(s, "scheme must be \"spiffe://\"");
  }
}

TEST_CASE(
    "a trust domain of lowercase letters, digits, dot, dash and underscore is accepted (ID-2)",
    "[svid][spiffe_id]") {
  CHECK(mustTd("abcdefghijklmnopqrstuvwxyz0123456789.-_").name() ==
        "abcdefghijklmnopqrstuvwxyz0123456789.-_");
  CHECK(mustParse("spiffe://a-b_c.d9").trustDomain().name() == "a-b_c.d9");
}

TEST_CASE("a trust domain with uppercase letters is rejected, not folded (ID-2)",
          "[svid][spiffe_id]") {
  requireTdRejected("Example.org", "uppercase letter 'E'");
  requireTdRejected("exAmple.org", "uppercase letter 'A'");
  requireIdRejected("spiffe://EXAMPLE.ORG", "uppercase letter");
}

TEST_CASE("an empty trust domain is rejected (ID-2)", "[svid][spiffe_id]") {
  requireTdRejected("", "trust domain is empty");
  requireIdRejected("spiffe://", "trust domain is empty");
  requireIdRejected("spiffe:///", "trust domain is empty");
}

TEST_CASE("a trust domain with bytes outside its alphabet is rejected (ID-2)",
          "[svid][spiffe_id]") {
  requireTdRejected("exa mple.org", "invalid character ' '");
  requireTdRejected("example.org/a", "invalid character '/'");
  requireTdRejected("ex\xc3\xa9.org", "invalid character byte 0xc3");
  requireTdRejected("a\0b"s, "invalid character byte 0x00");
  requireIdRejected("spiffe://ex+ample.org/a", "invalid character '+'");
}

TEST_CASE("an ipv4 dotted quad is an ordinary trust domain (ID-3)", "[svid][spiffe_id]") {
  CHECK(mustTd("10.0.0.1").name() == "10.0.0.1");
  CHECK(mustParse("spiffe://192.168.1.1/w").trustDomain().name() == "192.168.1.1");
}

TEST_CASE("userinfo, port, percent-encoding and ipv6 literals are rejected (ID-3)",
          "[svid][spiffe_id]") {
  requireIdRejected("spiffe://user:pw@example.org/a", "':' (a port is not allowed)");
  requireIdRejected("spiffe://u@example.org", "'@' (userinfo is not allowed)");
  requireIdRejected("spiffe://example.org:443", "':' (a port is not allowed)");
  requireIdRejected("spiffe://ex%61mple.org/a", "'%' (percent-encoding is not allowed)");
  requireIdRejected("spiffe://[::1]/a", "'[' (an IPv6 literal is not allowed)");
  requireTdRejected("example.org:8080", "':' (a port is not allowed)");
  requireTdRejected("u@example.org", "'@' (userinfo is not allowed)");
  requireTdRejected("ex%2eorg", "'%'");
  requireTdRejected("fe80]", "']' (an IPv6 literal is not allowed)");
}

TEST_CASE("paths of legal segments are accepted, including dot-prefixed ones (ID-4)",
          "[svid][spiffe_id]") {
  for (const char* p : {"", "/a", "/a/b/c", "/...", "/.hidden", "/a..b", "/..a", "/.a.",
                        "/AZaz09.-_", "/ns/Prod/sa/Web"}) {
    INFO(p);
    CHECK(validatePath(p).has_value());
    SpiffeId id = mustParse("spiffe://example.org"s + p);
    CHECK(id.path() == p);
  }
}

TEST_CASE("empty, dot and dot-dot segments and a trailing slash are rejected (ID-4)",
          "[svid][spiffe_id]") {
  struct Case {
    const char* path;
    const char* why;
  };
  const Case cases[] = {
      {"/", "path has a trailing '/'"},
      {"/a/", "path has a trailing '/'"},
      {"//", "empty path segment"},
      {"/a//b", "empty path segment"},
      {"/.", "path segment \".\" is not allowed"},
      {"/a/.", "path segment \".\" is not allowed"},
      {"/./a", "path segment \".\" is not allowed"},
      {"/..", "path segment \"..\" is not allowed"},
      {"/a/../b", "path segment \"..\" is not allowed"},
      {"a", "path does not start with '/'"},
  };
  for (const auto& c : cases) {
    INFO(c.path);
    auto r = validatePath(c.path);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Code::InvalidArgument);
    CHECK(r.error().message == "validating path \""s + c.path + "\": " + c.why);
    if (c.path[0] == '/') {
      requireIdRejected("spiffe://example.org"s + c.path, c.why);
    }
  }
}

TEST_CASE("percent, query, fragment and other bytes are rejected anywhere in a path (ID-4)",
          "[svid][spiffe_id]") {
  for (const char* p : {"/a%2F", "/?", "/a?b", "/a#", "/#a", "/a b", "/a+b", "/a:b", "/a@b",
                        "/a\\b", "/caf\xc3\xa9", "/a~b", "/a\x7f"}) {
    INFO(p);
    CHECK_FALSE(validatePath(p).has_value());
    requireIdRejected("spiffe://example.org"s + p, "path contains ");
  }
  CHECK_FALSE(validatePath("/a\0b"s).has_value());
}

TEST_CASE("the first fault from the left is reported, as go-spiffe does (ID-4)",
          "[svid][spiffe_id]") {
  requireIdRejected("spiffe://example.org//a%", "empty path segment");
  requireIdRejected("spiffe://example.org/%//", "'%'");
}

TEST_CASE("an id of exactly 2048 bytes and a trust domain of 255 bytes are accepted (ID-5)",
          "[svid][spiffe_id]") {
  std::string prefix = "spiffe://example.org";
  std::string id = prefix + "/" + std::string(kMaxSpiffeIdLength - prefix.size() - 1, 'a');
  REQUIRE(id.size() == 2048);
  CHECK(mustParse(id).str() == id);

  std::string td(kMaxTrustDomainLength, 'a');
  CHECK(mustTd(td).name() == td);
  CHECK(mustParse("spiffe://" + td + "/x").trustDomain().name() == td);

  auto built = SpiffeId::fromPath(mustTd("example.org"), id.substr(prefix.size()));
  REQUIRE(built.has_value());
  CHECK(built->str() == id);
}

TEST_CASE("an id of 2049 bytes and a trust domain of 256 bytes are rejected (ID-5)",
          "[svid][spiffe_id]") {
  std::string prefix = "spiffe://example.org";
  std::string id = prefix + "/" + std::string(kMaxSpiffeIdLength - prefix.size(), 'a');
  REQUIRE(id.size() == 2049);
  requireIdRejected(id, "ID is 2049 bytes, longer than 2048");

  std::string td(kMaxTrustDomainLength + 1, 'a');
  requireTdRejected(td, "trust domain is 256 bytes, longer than 255");
  requireIdRejected("spiffe://" + td + "/x", "trust domain is 256 bytes, longer than 255");

  auto built = SpiffeId::fromPath(mustTd("example.org"), id.substr(prefix.size()));
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().code == Code::InvalidArgument);
  CHECK_THAT(built.error().message, Catch::Contains("ID is 2049 bytes, longer than 2048"));
}

TEST_CASE("ids compare byte for byte and are never normalized (ID-6)", "[svid][spiffe_id]") {
  SpiffeId lower = mustParse("spiffe://example.org/web");
  SpiffeId upper = mustParse("spiffe://example.org/Web");
  CHECK(lower != upper);
  CHECK(upper < lower);  // 'W' < 'w' as bytes
  CHECK(upper.path() == "/Web");
  CHECK(mustParse("spiffe://example.org/web") == lower);
  CHECK(mustParse("spiffe://example.org/web/x") != lower);
  CHECK(mustParse("spiffe://example.org/a.b") != mustParse("spiffe://example.org/a-b"));
  CHECK(mustParse("spiffe://example.org/web") != mustParse("spiffe://example.com/web"));
  CHECK(mustTd("a.org") != mustTd("a.org."));
}

TEST_CASE("ids that differ only in forms a normalizer would fold are rejected, not folded (ID-6)",
          "[svid][spiffe_id]") {
  // A normalizer would turn each of these into spiffe://example.org/a; we reject them instead.
  requireIdRejected("spiffe://Example.org/a", "uppercase");
  requireIdRejected("spiffe://example.org/./a", "\".\"");
  requireIdRejected("spiffe://example.org//a", "empty path segment");
  requireIdRejected("spiffe://example.org/%61", "'%'");
}

TEST_CASE("a configured trust domain without edge dots or double dots is accepted (ID-7)",
          "[svid][spiffe_id]") {
  CHECK(TrustDomain::parseForConfig("example.org").has_value());
  CHECK(TrustDomain::parseForConfig("a.b.c").has_value());
  CHECK(TrustDomain::parseForConfig("x").has_value());
  CHECK(TrustDomain::parseForConfig("spiffe://prod.example.org/a").value().name() ==
        "prod.example.org");
}

TEST_CASE("a configured trust domain with edge dots or double dots is rejected (ID-7)",
          "[svid][spiffe_id]") {
  struct Case {
    const char* name;
    const char* why;
  };
  const Case cases[] = {
      {".example.org", "starts with '.'"}, {"example.org.", "ends with '.'"},
      {"example..org", "contains \"..\""}, {".", "starts with '.'"},
      {"..", "starts with '.'"},           {"spiffe://example.org./a", "ends with '.'"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    // Legal per the SPIFFE spec, so parse() accepts them; only configuration refuses them.
    CHECK(TrustDomain::parse(c.name).has_value());
    auto r = TrustDomain::parseForConfig(c.name);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Code::InvalidArgument);
    CHECK_THAT(r.error().message, Catch::StartsWith("parsing trust domain \""s + c.name));
    CHECK_THAT(r.error().message, Catch::Contains(c.why));
  }
  CHECK_FALSE(TrustDomain::parseForConfig("Example.org").has_value());
}

TEST_CASE("a trust domain's own id is spiffe:// plus its name, with no slash (ID-8)",
          "[svid][spiffe_id]") {
  TrustDomain td = mustTd("example.org");
  CHECK(td.idString() == "spiffe://example.org");
  SpiffeId root = mustParse(td.idString());
  CHECK(root.isRoot());
  CHECK(root.path().empty());
  CHECK(root.trustDomain() == td);
  auto built = SpiffeId::fromPath(td, "");
  REQUIRE(built.has_value());
  CHECK(*built == root);
  CHECK_FALSE(mustParse("spiffe://example.org/a").isRoot());
}

TEST_CASE("a trust domain's id with a trailing slash is rejected (ID-8)", "[svid][spiffe_id]") {
  requireIdRejected("spiffe://example.org/", "trailing '/'");
  auto built = SpiffeId::fromPath(mustTd("example.org"), "/");
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().message ==
        "building SPIFFE ID in trust domain example.org from path \"/\": path has a trailing '/'");
}

TEST_CASE("fromPath builds an id from a trust domain and a valid path", "[svid][spiffe_id]") {
  auto built = SpiffeId::fromPath(mustTd("example.org"), "/ns/prod");
  REQUIRE(built.has_value());
  CHECK(*built == mustParse("spiffe://example.org/ns/prod"));
  CHECK_FALSE(SpiffeId::fromPath(mustTd("example.org"), "ns/prod").has_value());
  CHECK_FALSE(SpiffeId::fromPath(mustTd("example.org"), "/a//b").has_value());
}

TEST_CASE("a trust-domain key may be a bare name or a full id reduced to its trust domain (ID-9)",
          "[svid][spiffe_id]") {
  TrustDomain want = mustTd("example.org");
  CHECK(mustTd("spiffe://example.org") == want);
  CHECK(mustTd("spiffe://example.org/a/b") == want);
  CHECK(mustTd("spiffe://example.org/ns/prod/sa/web") == want);
  CHECK(mustTd(want.idString()).idString() == want.idString());
}

TEST_CASE("a trust-domain key containing :/ must be a fully valid id (ID-9)", "[svid][spiffe_id]") {
  requireTdRejected("spiffe:/example.org", "scheme must be \"spiffe://\"");
  requireTdRejected("https://example.org", "scheme must be \"spiffe://\"");
  requireTdRejected("SPIFFE://example.org", "scheme must be \"spiffe://\"");
  requireTdRejected("spiffe://Example.org/a", "uppercase letter 'E'");
  requireTdRejected("spiffe://example.org/", "trailing '/'");
  requireTdRejected("spiffe://example.org/a//b", "empty path segment");
  requireTdRejected("spiffe://", "trust domain is empty");
  // Without ":/" it is a bare name, and ':' is not a trust-domain byte.
  requireTdRejected("spiffe:example.org", "':' (a port is not allowed)");
}

}  // namespace
}  // namespace lanyard::svid
