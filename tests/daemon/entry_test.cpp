// SPDX-License-Identifier: Apache-2.0
// Tests for daemon/entry.cpp and daemon/entry_template.cpp: selector syntax, matching callers
// to entries, and templated SPIFFE IDs (which must fail closed on hostile selector values).
#include "daemon/entry.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"

namespace lanyard::daemon {
namespace {

svid::TrustDomain td(const std::string& name) {
  return svid::TrustDomain::parseForConfig(name).value();
}

EntrySelector sel(const std::string& text) { return parseSelector(text).value(); }

RegistrationEntry entry(const std::string& id, const std::vector<std::string>& selectors) {
  RegistrationEntry e{.spiffeIdTemplate = id};
  for (const auto& s : selectors) {
    e.selectors.push_back(sel(s));
  }
  return e;
}

std::string rejection(const Result<void>& r) {
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Code::InvalidArgument);
  return r.error().message;
}

std::string selectorRejection(const std::string& text) {
  auto r = parseSelector(text);
  INFO(text);
  REQUIRE_FALSE(r.has_value());
  return r.error().message;
}

const std::vector<CallerSelector> kK8sCaller = {
    {"unix", "uid:1000"}, {"k8s", "ns:prod"}, {"k8s", "sa:web"}, {"k8s", "pod-label:app:web"}};

TEST_CASE("selectors split into type and value the way SPIRE writes them", "[daemon][entry]") {
  EntrySelector uid = sel("unix:uid:1000");
  CHECK(uid.type == "unix");
  CHECK(uid.value == "uid:1000");
  CHECK(uid.key() == "uid");
  CHECK_FALSE(uid.presenceOnly());
  CHECK(uid.str() == "unix:uid:1000");

  EntrySelector path = sel("unix:path:/usr/bin/billing");
  CHECK(path.value == "path:/usr/bin/billing");

  // Values may hold ':' themselves (a docker label key:value pair).
  EntrySelector label = sel("docker:label:app:web");
  CHECK(label.type == "docker");
  CHECK(label.value == "label:app:web");
  CHECK(label.key() == "label");

  EntrySelector ns = sel("k8s:ns");
  CHECK(ns.type == "k8s");
  CHECK(ns.key() == "ns");
  CHECK(ns.presenceOnly());

  CHECK(sel("k8s:pod-label:tier:front end").value == "pod-label:tier:front end");
}

TEST_CASE("malformed selectors are rejected with a reason", "[daemon][entry]") {
  CHECK(selectorRejection("unix") ==
        "selector \"unix\" has no key: write type:key:value (e.g. unix:uid:1000), or type:key "
        "for \"any value\"");
  CHECK(selectorRejection(":uid:1") ==
        "selector \":uid:1\": the type must be lowercase letters, digits, '_' or '-'");
  CHECK(selectorRejection("Unix:uid:1") ==
        "selector \"Unix:uid:1\": the type must be lowercase letters, digits, '_' or '-'");
  CHECK(selectorRejection("unix::1") ==
        "selector \"unix::1\": the key must be letters, digits, '_', '.' or '-' (write "
        "type:key:value (e.g. unix:uid:1000), or type:key for \"any value\")");
  CHECK(selectorRejection("unix:") ==
        "selector \"unix:\": the key must be letters, digits, '_', '.' or '-' (write "
        "type:key:value (e.g. unix:uid:1000), or type:key for \"any value\")");
  CHECK(selectorRejection("unix:uid:") ==
        "selector \"unix:uid:\" has an empty value: write type:key:value (e.g. "
        "unix:uid:1000), or type:key for \"any value\"");
  CHECK(selectorRejection("unix:uid:1\n0") ==
        "selector \"unix:uid:1\\x0a0\" contains a control character");
  CHECK(selectorRejection("unix:path:" + std::string(1100, 'a')) ==
        "selector is 1110 bytes, longer than 1024");
}

TEST_CASE("an entry matches when every one of its selectors is among the caller's",
          "[daemon][entry]") {
  RegistrationEntry e =
      entry("spiffe://example.org/billing/api", {"unix:uid:1000", "unix:path:/usr/bin/billing"});
  CHECK(matches(e, {{"unix", "uid:1000"}, {"unix", "path:/usr/bin/billing"}, {"unix", "gid:5"}}));
  CHECK_FALSE(matches(e, {{"unix", "uid:1000"}}));
  CHECK_FALSE(matches(e, {{"unix", "uid:1000"}, {"unix", "path:/usr/bin/billing2"}}));
  // The type is part of the selector: docker's uid:1000 is not unix's.
  CHECK_FALSE(matches(e, {{"docker", "uid:1000"}, {"unix", "path:/usr/bin/billing"}}));
  CHECK_FALSE(matches(e, {}));
}

TEST_CASE("a type-only selector matches any value of its key, and only that key",
          "[daemon][entry]") {
  RegistrationEntry e = entry("spiffe://example.org/ns/{k8s:ns}", {"k8s:ns"});
  CHECK(matches(e, {{"k8s", "ns:prod"}}));
  CHECK(matches(e, {{"k8s", "ns:a:b"}}));
  CHECK_FALSE(matches(e, {{"k8s", "ns"}}));
  CHECK_FALSE(matches(e, {{"k8s", "nsx:prod"}}));
  CHECK_FALSE(matches(e, {{"k8s", "sa:ns"}}));
  CHECK_FALSE(matches(e, {{"docker", "ns:prod"}}));
}

TEST_CASE("templated IDs are filled in from the caller's selector values", "[daemon][entry]") {
  RegistrationEntry e = entry("spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}", {"k8s:ns", "k8s:sa"});
  REQUIRE(isTemplated(e.spiffeIdTemplate));
  auto id = render(e, kK8sCaller);
  REQUIRE(id);
  CHECK(id->str() == "spiffe://example.org/ns/prod/sa/web");

  SECTION("a placeholder may sit inside a segment") {
    RegistrationEntry u = entry("spiffe://example.org/uid-{unix:uid}", {"unix:uid"});
    CHECK(render(u, kK8sCaller)->str() == "spiffe://example.org/uid-1000");
  }
  SECTION("a non-templated entry renders to its own ID") {
    RegistrationEntry plain = entry("spiffe://example.org/billing", {"unix:uid:1000"});
    CHECK_FALSE(isTemplated(plain.spiffeIdTemplate));
    CHECK(render(plain, kK8sCaller)->str() == "spiffe://example.org/billing");
  }
  SECTION("when the entry names exact values for a key, only those fill the placeholder") {
    RegistrationEntry g = entry("spiffe://example.org/gid/{unix:gid}", {"unix:gid:27"});
    std::vector<CallerSelector> caller = {{"unix", "gid:1000"}, {"unix", "gid:27"}};
    CHECK(render(g, caller)->str() == "spiffe://example.org/gid/27");
  }
}

TEST_CASE("a selector value that would inject '/' or '..' into a templated ID is refused (ID-4)",
          "[daemon][entry][security]") {
  RegistrationEntry e = entry("spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}", {"k8s:ns", "k8s:sa"});
  auto renderWithNs = [&](const std::string& ns) {
    return render(e, {{"k8s", "ns:" + ns}, {"k8s", "sa:web"}});
  };
  for (const std::string& hostile :
       {std::string("prod/sa/admin"), std::string(".."), std::string("."), std::string(""),
        std::string("a b"), std::string("a%2fb"), std::string("a?b"), std::string("a\nb"),
        std::string("../../admin"), std::string("prod/")}) {
    INFO(hostile);
    auto id = renderWithNs(hostile);
    REQUIRE_FALSE(id.has_value());
    CHECK(id.error().code == Code::PermissionDenied);
    CHECK_THAT(id.error().message,
               Catch::StartsWith("rendering SPIFFE ID \"spiffe://example.org/ns/{k8s:ns}/sa/"
                                 "{k8s:sa}\": the caller's k8s:ns value "));
    CHECK_THAT(id.error().message, Catch::EndsWith(" is not one valid path segment (ID-4)"));
  }
  CHECK(renderWithNs("a/b").error().message ==
        "rendering SPIFFE ID \"spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}\": the caller's "
        "k8s:ns value \"a/b\" is not one valid path segment (ID-4)");
  // Segments that merely contain dots are legal (ID-4), and are used as they are.
  CHECK(renderWithNs("...")->str() == "spiffe://example.org/ns/.../sa/web");
  CHECK(renderWithNs(".hidden")->str() == "spiffe://example.org/ns/.hidden/sa/web");
}

TEST_CASE("rendering fails closed when a placeholder has no value or several",
          "[daemon][entry][security]") {
  RegistrationEntry e = entry("spiffe://example.org/ns/{k8s:ns}", {"k8s:ns"});
  auto none = render(e, {{"unix", "uid:1000"}});
  REQUIRE_FALSE(none);
  CHECK(none.error().code == Code::PermissionDenied);
  CHECK(none.error().message ==
        "rendering SPIFFE ID \"spiffe://example.org/ns/{k8s:ns}\": the caller has 0 values for "
        "k8s:ns, and a template needs exactly one");
  auto two = render(e, {{"k8s", "ns:a"}, {"k8s", "ns:b"}});
  REQUIRE_FALSE(two);
  CHECK(two.error().message ==
        "rendering SPIFFE ID \"spiffe://example.org/ns/{k8s:ns}\": the caller has 2 values for "
        "k8s:ns, and a template needs exactly one");
  // The same value reported twice is one value.
  CHECK(render(e, {{"k8s", "ns:a"}, {"k8s", "ns:a"}})->str() == "spiffe://example.org/ns/a");
}

TEST_CASE("a rendered ID longer than 2048 bytes is refused (ID-5)", "[daemon][entry][security]") {
  RegistrationEntry e = entry("spiffe://example.org/{k8s:ns}/{k8s:sa}", {"k8s:ns", "k8s:sa"});
  const std::string big(1100, 'a');
  auto id = render(e, {{"k8s", "ns:" + big}, {"k8s", "sa:" + big}});
  REQUIRE_FALSE(id);
  CHECK(id.error().code == Code::PermissionDenied);
  CHECK_THAT(id.error().message, Catch::EndsWith(": ID is 2222 bytes, longer than 2048"));
}

TEST_CASE("render never substitutes into the trust domain", "[daemon][entry][security]") {
  // validateIdTemplate() refuses this entry; render() refuses it again on its own.
  RegistrationEntry e = entry("spiffe://{k8s:ns}/x", {"k8s:ns"});
  auto id = render(e, {{"k8s", "ns:evil.org"}});
  REQUIRE_FALSE(id);
  CHECK(id.error().message ==
        "rendering SPIFFE ID \"spiffe://{k8s:ns}/x\": placeholders are allowed only in the "
        "path, not in the trust domain");
}

TEST_CASE("entry IDs and templates are validated against the trust domain", "[daemon][entry]") {
  const svid::TrustDomain org = td("example.org");
  const std::vector<EntrySelector> k8s = {sel("k8s:ns"), sel("k8s:sa")};
  CHECK(validateIdTemplate("spiffe://example.org/a", org, {sel("unix:uid:1")}));
  CHECK(validateIdTemplate("spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}", org, k8s));
  CHECK(validateIdTemplate("spiffe://example.org/x/{k8s:ns}", org, {sel("k8s:ns:prod")}));

  SECTION("ID-4 in the fixed parts") {
    CHECK(rejection(validateIdTemplate("spiffe://example.org/a/../b", org, k8s)) ==
          "path segment \"..\" is not allowed");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{k8s:ns}/./x", org, k8s)) ==
          "path segment \".\" is not allowed");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{k8s:ns}//x", org, k8s)) ==
          "empty path segment");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{k8s:ns}/", org, k8s)) ==
          "path has a trailing '/'");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/a b", org, k8s)) ==
          "path contains invalid character ' '");
  }
  SECTION("ID-1, ID-2 and ID-5") {
    CHECK(rejection(validateIdTemplate("https://example.org/a", org, k8s)) ==
          "scheme must be \"spiffe://\"");
    CHECK(rejection(validateIdTemplate("spiffe://Example.org/a", org, k8s)) ==
          "trust domain contains uppercase letter 'E'");
    const std::string longId = "spiffe://example.org/" + std::string(2030, 'a');
    CHECK(rejection(validateIdTemplate(longId, org, k8s)) ==
          "ID is 2051 bytes, longer than 2048 (ID-5)");
    // With placeholders the length counts them as written.
    const std::string longTemplate = "spiffe://example.org/{k8s:ns}" + std::string(2020, 'a');
    CHECK(rejection(validateIdTemplate(longTemplate, org, k8s)) ==
          "ID is 2049 bytes, longer than 2048 (ID-5)");
  }
  SECTION("the trust domain must be the configured one, and not the root ID (X509-2)") {
    CHECK(rejection(validateIdTemplate("spiffe://other.org/a", org, k8s)) ==
          "trust domain \"other.org\" is not the configured trust domain \"example.org\"");
    CHECK(rejection(validateIdTemplate("spiffe://example.org", org, k8s)) ==
          "\"spiffe://example.org\" is the trust domain's own ID; an SVID needs a path (X509-2)");
  }
  SECTION("placeholders must be well formed and name a selector of the entry") {
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{k8s:pod}", org, k8s)) ==
          "placeholder {k8s:pod} names no selector of this entry (add k8s:pod to its "
          "selectors)");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{docker:ns}", org, k8s)) ==
          "placeholder {docker:ns} names no selector of this entry (add docker:ns to its "
          "selectors)");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{k8s}", org, k8s)) ==
          "placeholder {k8s} must be {type:key}, e.g. {k8s:ns}");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{k8s:ns:prod}", org, k8s)) ==
          "placeholder {k8s:ns:prod} must be {type:key}, e.g. {k8s:ns}");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{}", org, k8s)) ==
          "placeholder {} must be {type:key}, e.g. {k8s:ns}");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{k8s:ns", org, k8s)) ==
          "'{' without a matching '}'");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/{k8s:{k8s:ns}}", org, k8s)) ==
          "'{' without a matching '}'");
    CHECK(rejection(validateIdTemplate("spiffe://example.org/k8s:ns}", org, k8s)) ==
          "'}' without a matching '{'");
    CHECK(rejection(validateIdTemplate("spiffe://{k8s:ns}.org/a", org, k8s)) ==
          "placeholders are allowed only in the path, not in the trust domain");
  }
}

TEST_CASE("DNS names must be host names", "[daemon][entry]") {
  for (const char* ok : {"billing.internal", "a", "*.example.org", "x-1.example.org", "1.2.3.4"}) {
    INFO(ok);
    CHECK(validateDnsName(ok));
  }
  CHECK(rejection(validateDnsName("")) == "DNS name is empty");
  CHECK(rejection(validateDnsName("a..b")) == "DNS name \"a..b\" has an empty label");
  CHECK(rejection(validateDnsName("a.b.")) ==
        "DNS name \"a.b.\" ends with '.' (write it without the final dot)");
  CHECK(rejection(validateDnsName("-a.b")) ==
        "DNS name \"-a.b\" has a label that starts or ends with '-'");
  CHECK(rejection(validateDnsName("a_b.org")) ==
        "DNS name \"a_b.org\" is not a host name (letters, digits, '-' and '.' only; '*.' may "
        "lead)");
  CHECK(rejection(validateDnsName("a.*.org")) ==
        "DNS name \"a.*.org\" is not a host name (letters, digits, '-' and '.' only; '*.' may "
        "lead)");
  CHECK(rejection(validateDnsName(std::string(64, 'a') + ".org")) ==
        "DNS name \"" + std::string(64, 'a') + ".org\" has a label longer than 63 bytes");
  CHECK(rejection(validateDnsName(std::string(254, 'a'))) ==
        "DNS name is 254 bytes, longer than 253");
}

TEST_CASE("hints are at most 1024 bytes of text (WAPI-9)", "[daemon][entry]") {
  CHECK(validateHint(""));
  CHECK(validateHint(std::string(1024, 'h')));
  CHECK(rejection(validateHint(std::string(1025, 'h'))) ==
        "hint is 1025 bytes, longer than 1024 (WAPI-9)");
  CHECK(rejection(validateHint("a\x1b[31m")) == "hint \"a\\x1b[31m\" contains a control character");
}

}  // namespace
}  // namespace lanyard::daemon
