// SPDX-License-Identifier: Apache-2.0
// Tests for daemon/config*.cpp and daemon/default_config.cpp: one valid configuration with
// every key, the embedded default, the shipped example, and one broken configuration per key
// with its exact error (file:line: key path: reason), as Envoy's config_test.cc does.
#include "daemon/config.h"

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"
#include "support/run.h"
#include "support/temp_dir.h"

namespace lanyard::daemon {
namespace {

const char* const kFullConfig = R"(# every key, most with a non-default value
trust_domain: example.org
socket_path: agent.sock
data_dir: /var/lib/lanyard-test
log_level: debug
log_format: json
x509_svid_ttl: 2h
jwt_svid_ttl: 10m
authority:
  upstream: disk
  ca_ttl: 7d
  ca_key_type: ec-p384
  jwt_key_type: rsa-2048
  disk:
    cert_file: ./upstream/ca.pem
    key_file: /etc/lanyard/upstream.key
    bundle_file: roots.pem
health:
  listen: "[::1]:9090"
attestors:
  unix: {}
  docker:
    socket: /run/docker.sock
node_attestors:
  tpm:
    tcti: swtpm:host=127.0.0.1,port=2321
    pcrs: [0, 7]
    ek_handle: 0x81010002
    ek_ca_bundle: ek-roots.pem
    remeasure_interval: 30s
entries:
  - spiffe_id: spiffe://example.org/billing/api
    selectors: [unix:uid:1000, unix:path:/usr/bin/billing]
    x509_svid_ttl: 1h
    jwt_svid_ttl: 5m
    dns_names: [billing.internal, "*.billing.internal"]
    hint: billing
  - spiffe_id: spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}
    selectors:
      - k8s:ns
      - k8s:sa
)";

std::string errorOf(const std::string& yaml) {
  auto c = parseConfig(yaml, "config.yaml");
  INFO(yaml);
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().code == Code::InvalidArgument);
  return c.error().message;
}

// A broken configuration: everything after the first line, and the error it must give.
struct Broken {
  const char* rest;
  const char* error;
};

// Each case is "trust_domain: example.org\n" + rest, so the first line of `rest` is line 2.
void requireAllRejected(const std::vector<Broken>& cases) {
  for (const Broken& b : cases) {
    CHECK(errorOf(std::string("trust_domain: example.org\n") + b.rest) == b.error);
  }
}

void requireSameConfig(const Config& a, const Config& b) {
  CHECK(a.trustDomain == b.trustDomain);
  CHECK(a.socketPath == b.socketPath);
  CHECK(a.dataDir == b.dataDir);
  CHECK(a.logLevel == b.logLevel);
  CHECK(a.logFormat == b.logFormat);
  CHECK(a.x509SvidTtl == b.x509SvidTtl);
  CHECK(a.jwtSvidTtl == b.jwtSvidTtl);
  CHECK(a.authority.trustDomain == b.authority.trustDomain);
  CHECK(a.authority.dataDir == b.authority.dataDir);
  CHECK(a.authority.upstream == b.authority.upstream);
  CHECK(a.authority.upstreamCertFile == b.authority.upstreamCertFile);
  CHECK(a.authority.upstreamKeyFile == b.authority.upstreamKeyFile);
  CHECK(a.authority.tpmTcti == b.authority.tpmTcti);
  CHECK(a.authority.issuingTtl == b.authority.issuingTtl);
  CHECK(a.authority.tpmCertFile == b.authority.tpmCertFile);
  CHECK(a.authority.tpmBundleFile == b.authority.tpmBundleFile);
  CHECK(a.authority.upstreamBundleFile == b.authority.upstreamBundleFile);
  CHECK(a.authority.caTtl == b.authority.caTtl);
  CHECK(a.authority.caKeyType == b.authority.caKeyType);
  CHECK(a.authority.jwtKeyType == b.authority.jwtKeyType);
  CHECK(a.healthListen == b.healthListen);
  CHECK(YAML::Dump(a.attestors) == YAML::Dump(b.attestors));
  CHECK(a.tpm == b.tpm);
  REQUIRE(a.entries.size() == b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    INFO("entry " << i);
    CHECK(a.entries[i].spiffeIdTemplate == b.entries[i].spiffeIdTemplate);
    CHECK(a.entries[i].selectors == b.entries[i].selectors);
    CHECK(a.entries[i].x509SvidTtl == b.entries[i].x509SvidTtl);
    CHECK(a.entries[i].jwtSvidTtl == b.entries[i].jwtSvidTtl);
    CHECK(a.entries[i].dnsNames == b.entries[i].dnsNames);
    CHECK(a.entries[i].hint == b.entries[i].hint);
  }
}

TEST_CASE("a configuration with every key parses into every field", "[daemon][config]") {
  auto parsed = parseConfig(kFullConfig, "/etc/lanyard/config.yaml");
  REQUIRE(parsed);
  const Config& c = *parsed;
  CHECK(c.trustDomain.name() == "example.org");
  // Relative paths resolve against the config file's directory, not the working directory.
  CHECK(c.socketPath == "/etc/lanyard/agent.sock");
  CHECK(c.dataDir == "/var/lib/lanyard-test");
  CHECK(c.logLevel == "debug");
  CHECK(c.logFormat == log::Format::Json);
  CHECK(c.x509SvidTtl == Seconds(7200));
  CHECK(c.jwtSvidTtl == Seconds(600));
  CHECK(c.authority.trustDomain == c.trustDomain);
  CHECK(c.authority.dataDir == "/var/lib/lanyard-test");
  CHECK(c.authority.upstream == svid::UpstreamMode::Disk);
  CHECK(c.authority.caTtl == Seconds(7 * 86400));
  CHECK(c.authority.caKeyType == svid::KeyType::EcP384);
  CHECK(c.authority.jwtKeyType == svid::KeyType::Rsa2048);
  CHECK(c.authority.upstreamCertFile == "/etc/lanyard/upstream/ca.pem");
  CHECK(c.authority.upstreamKeyFile == "/etc/lanyard/upstream.key");
  CHECK(c.authority.upstreamBundleFile == "/etc/lanyard/roots.pem");
  CHECK(c.healthListen == "[::1]:9090");
  REQUIRE(c.attestors.IsMap());
  CHECK(c.attestors.size() == 2);
  CHECK(c.attestors["unix"].IsMap());
  CHECK(c.attestors["docker"]["socket"].Scalar() == "/run/docker.sock");
  REQUIRE(c.tpm);
  CHECK(*c.tpm == TpmNodeConfig{.tcti = "swtpm:host=127.0.0.1,port=2321",
                                .pcrs = {0, 7},
                                .ekHandle = 0x81010002,
                                .ekCaBundle = "/etc/lanyard/ek-roots.pem",
                                .remeasureInterval = Seconds(30)});

  REQUIRE(c.entries.size() == 2);
  const RegistrationEntry& billing = c.entries[0];
  CHECK(billing.spiffeIdTemplate == "spiffe://example.org/billing/api");
  CHECK(billing.selectors ==
        std::vector<EntrySelector>{{"unix", "uid:1000"}, {"unix", "path:/usr/bin/billing"}});
  CHECK(billing.x509SvidTtl == Seconds(3600));
  CHECK(billing.jwtSvidTtl == Seconds(300));
  CHECK(billing.dnsNames == std::vector<std::string>{"billing.internal", "*.billing.internal"});
  CHECK(billing.hint == "billing");
  const RegistrationEntry& k8s = c.entries[1];
  CHECK(k8s.spiffeIdTemplate == "spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}");
  CHECK(k8s.selectors == std::vector<EntrySelector>{{"k8s", "ns"}, {"k8s", "sa"}});
  CHECK_FALSE(k8s.x509SvidTtl.has_value());
  CHECK_FALSE(k8s.jwtSvidTtl.has_value());
  CHECK(k8s.dnsNames.empty());
  CHECK(k8s.hint.empty());
}

TEST_CASE("a configuration with only trust_domain gets the documented defaults",
          "[daemon][config]") {
  auto c = parseConfig("trust_domain: example.org\n", "/etc/lanyard/config.yaml");
  REQUIRE(c);
  CHECK(c->socketPath == "/run/lanyard/agent.sock");
  CHECK(c->dataDir == "/var/lib/lanyard");
  CHECK(c->logLevel == "info");
  CHECK(c->logFormat == log::Format::Text);
  CHECK(c->x509SvidTtl == Seconds(3600));
  CHECK(c->jwtSvidTtl == Seconds(300));
  CHECK(c->authority.upstream == svid::UpstreamMode::SelfSigned);
  CHECK(c->authority.caTtl == Seconds(86400));
  CHECK(c->authority.caKeyType == svid::KeyType::EcP256);
  CHECK(c->authority.jwtKeyType == svid::KeyType::EcP256);
  CHECK(c->authority.dataDir == "/var/lib/lanyard");
  CHECK(c->healthListen == "127.0.0.1:8089");
  CHECK(c->attestors.IsMap());
  CHECK(c->attestors.size() == 0);
  CHECK(c->entries.empty());
}

TEST_CASE("a relative config path resolves relative paths against the working directory",
          "[daemon][config]") {
  auto c = parseConfig("trust_domain: example.org\ndata_dir: state/./ca\n", "config.yaml");
  REQUIRE(c);
  CHECK(c->dataDir == std::filesystem::current_path().string() + "/state/ca");
}

TEST_CASE("the embedded default serves the invoking user and is a valid configuration",
          "[daemon][config]") {
  SECTION("XDG directories are used when set") {
    Config c = embeddedDefault(
        1234,
        {.xdgDataHome = "/home/u/.data", .xdgRuntimeDir = "/run/user/1234", .home = "/home/u"});
    CHECK(c.trustDomain.name() == "example.org");
    CHECK(c.dataDir == "/home/u/.data/lanyard");
    CHECK(c.authority.dataDir == c.dataDir);
    CHECK(c.socketPath == "/run/user/1234/lanyard/agent.sock");
    CHECK(c.authority.upstream == svid::UpstreamMode::SelfSigned);
    REQUIRE(c.entries.size() == 1);
    CHECK(c.entries[0].spiffeIdTemplate == "spiffe://example.org/uid/1234");
    CHECK(c.entries[0].selectors == std::vector<EntrySelector>{{"unix", "uid:1234"}});
    CHECK(matches(c.entries[0], {{"unix", "uid:1234"}}));
    CHECK_FALSE(matches(c.entries[0], {{"unix", "uid:1235"}}));
  }
  SECTION("without XDG, ~/.local/share and /tmp/lanyard-$UID") {
    Config c = embeddedDefault(1234, {.xdgDataHome = "", .xdgRuntimeDir = "", .home = "/home/u"});
    CHECK(c.dataDir == "/home/u/.local/share/lanyard");
    CHECK(c.socketPath == "/tmp/lanyard-1234/agent.sock");
  }
  SECTION("without a home either, everything goes under /tmp/lanyard-$UID") {
    Config c = embeddedDefault(7, UserDirs{});
    CHECK(c.dataDir == "/tmp/lanyard-7/data");
  }
  SECTION("a runtime directory too long for a socket path falls back to /tmp") {
    Config c = embeddedDefault(7, {.xdgRuntimeDir = "/" + std::string(100, 'r')});
    CHECK(c.socketPath == "/tmp/lanyard-7/agent.sock");
  }
  SECTION("it round-trips through YAML") {
    Config c = embeddedDefault(::getuid());
    auto back = parseConfig(toYaml(c), "/nonexistent/default.yaml");
    INFO(toYaml(c));
    REQUIRE(back);
    requireSameConfig(c, *back);
  }
}

TEST_CASE("a full configuration round-trips through toYaml", "[daemon][config]") {
  auto c = parseConfig(kFullConfig, "/etc/lanyard/config.yaml");
  REQUIRE(c);
  const std::string yaml = toYaml(*c);
  INFO(yaml);
  auto back = parseConfig(yaml, "/elsewhere/config.yaml");
  REQUIRE(back);
  requireSameConfig(*c, *back);
}

TEST_CASE("the shipped example docs/examples/lanyard.yaml is accepted", "[daemon][config]") {
  auto c = loadConfig(testing::sourceDir() + "/docs/examples/lanyard.yaml");
  REQUIRE(c);
  CHECK(c->trustDomain.name() == "example.org");
  CHECK(c->entries.size() >= 2);
}

TEST_CASE("the error for a bad entry ID reads as DESIGN.md section 6 shows it",
          "[daemon][config]") {
  CHECK(errorOf(R"(trust_domain: example.org
entries:
  - spiffe_id: spiffe://example.org/a
    selectors: [unix:uid:1]
  - spiffe_id: spiffe://example.org/b
    selectors: [unix:uid:2]
  - spiffe_id: spiffe://example.org/c
    selectors: [unix:uid:3]
  # the fourth entry is entries[3]
  - selectors:
      - unix:uid:4
    spiffe_id: spiffe://example.org/d/../e
)") == "config.yaml:12: entries[3].spiffe_id: path segment \"..\" is not allowed");
}

TEST_CASE("broken files are rejected with the file and line", "[daemon][config]") {
  CHECK(errorOf("") == "config.yaml: empty configuration (at least trust_domain is required)");
  CHECK(errorOf("# nothing but a comment\n\n") ==
        "config.yaml: empty configuration (at least trust_domain is required)");
  CHECK(errorOf("trust_domain: [example.org\nlog_level: info\n") ==
        "config.yaml:2: parsing YAML: end of sequence flow not found");
  CHECK(errorOf("trust_domain: example.org\n  log_level: info: x\n") ==
        "config.yaml:2: parsing YAML: illegal map value");
  CHECK(errorOf("trust_domain: a\n---\ntrust_domain: b\n") ==
        "config.yaml:2: more than one YAML document (---): write one configuration");
  CHECK(parseConfig("---\ntrust_domain: example.org\n...\n", "config.yaml"));
  // yaml-cpp 0.7's LoadAll() would loop forever, allocating, on these (jbeder/yaml-cpp#1040).
  CHECK(errorOf(",") == "config.yaml:1: parsing YAML: unexpected character \",\"");
  CHECK(errorOf("# comment\n, most\ntrust_domain: example.org\n") ==
        "config.yaml:2: parsing YAML: unexpected character \",\"");
  CHECK(errorOf("- trust_domain: example.org\n") ==
        "config.yaml:1: expected a map, got a sequence");
  CHECK(errorOf("example.org\n") == "config.yaml:1: expected a map, got a string");
  CHECK(errorOf("trust_domain: example.org\n? [a]\n: b\n") ==
        "config.yaml:2: a key must be a string, not a sequence");
  CHECK(errorOf("trust_domain: example.org\nlog_level: info\nlog_level: debug\n") ==
        "config.yaml:3: log_level: key appears twice (first on line 2)");
  CHECK(errorOf("trust_domain: example.org\nsocket: /run/x.sock\n") ==
        "config.yaml:2: socket: unknown key (known keys here: trust_domain, socket_path, "
        "data_dir, log_level, log_format, x509_svid_ttl, jwt_svid_ttl, authority, health, "
        "attestors, node_attestors, entries)");
  CHECK(errorOf("trust_domain: example.org\n\"a\\x1bb\": 1\n") ==
        "config.yaml:2: \"a\\x1bb\": unknown key (known keys here: trust_domain, socket_path, "
        "data_dir, log_level, log_format, x509_svid_ttl, jwt_svid_ttl, authority, health, "
        "attestors, node_attestors, entries)");
  CHECK(errorOf("trust_domain: example.org\n# " + std::string(1 << 20, 'x') + "\n") ==
        "config.yaml: the file is 1048605 bytes, more than the 1 MiB a configuration may be");
}

TEST_CASE("trust_domain is required and validated (ID-2, ID-3, ID-5, ID-7)", "[daemon][config]") {
  CHECK(errorOf("log_level: info\n") ==
        "config.yaml:1: trust_domain: missing: every configuration names its trust domain "
        "(e.g. trust_domain: example.org)");
  CHECK(errorOf("trust_domain: [example.org]\n") ==
        "config.yaml:1: trust_domain: expected a string, got a sequence");
  CHECK(errorOf("trust_domain:\n") == "config.yaml:1: trust_domain: expected a string, got null");
  CHECK(errorOf("trust_domain: Example.org\n") ==
        "config.yaml:1: trust_domain: trust domain contains uppercase letter 'E'");
  CHECK(errorOf("trust_domain: example.org:8080\n") ==
        "config.yaml:1: trust_domain: trust domain contains ':' (a port is not allowed)");
  CHECK(errorOf("trust_domain: user@example.org\n") ==
        "config.yaml:1: trust_domain: trust domain contains '@' (userinfo is not allowed)");
  CHECK(errorOf("trust_domain: .example.org\n") ==
        "config.yaml:1: trust_domain: trust domain starts with '.' (Go's X.509 parser would "
        "reject every SVID)");
  CHECK(errorOf("trust_domain: example..org\n") ==
        "config.yaml:1: trust_domain: trust domain contains \"..\" (Go's X.509 parser would "
        "reject every SVID)");
  CHECK(errorOf("trust_domain: " + std::string(256, 'a') + "\n") ==
        "config.yaml:1: trust_domain: trust domain is 256 bytes, longer than 255");
  CHECK(errorOf("trust_domain: spiffe://example.org\n") ==
        "config.yaml:1: trust_domain: write the bare name (e.g. example.org), not a SPIFFE ID or "
        "URL");
}

TEST_CASE("paths, logging and TTLs are checked", "[daemon][config]") {
  requireAllRejected({
      {"socket_path: \"\"\n", "config.yaml:2: socket_path: empty path"},
      {"socket_path:\n", "config.yaml:2: socket_path: expected a string, got null"},
      {"socket_path: ~/agent.sock\n",
       "config.yaml:2: socket_path: '~' is not expanded: write the full path"},
      {"socket_path: \"/run/a\\0b\"\n",
       "config.yaml:2: socket_path: path \"/run/a\\x00b\" contains a control character"},
      {"data_dir: {a: 1}\n", "config.yaml:2: data_dir: expected a string, got a map"},
      {"log_level: verbose\n",
       "config.yaml:2: log_level: unknown level \"verbose\" (want debug, info, warn or error)"},
      {"log_format: xml\n",
       "config.yaml:2: log_format: unknown format \"xml\" (want text or json)"},
      {"x509_svid_ttl: 3600\n",
       "config.yaml:2: x509_svid_ttl: missing unit (s, m, h or d) after \"3600\""},
      {"x509_svid_ttl: 0s\n", "config.yaml:2: x509_svid_ttl: duration \"0s\" must be positive"},
      {"x509_svid_ttl: 13h\n",
       "config.yaml:2: x509_svid_ttl: 13h is more than half of authority.ca_ttl (1d): an SVID "
       "never outlives its CA, so it would be cut short"},
      {"jwt_svid_ttl: 1h30m\n",
       "config.yaml:2: jwt_svid_ttl: duration \"1h30m\" must be one number and one unit: s, m, "
       "h or d (e.g. 90m, not 1h30m)"},
      {"jwt_svid_ttl: [5m]\n", "config.yaml:2: jwt_svid_ttl: expected a string, got a sequence"},
  });
  const std::string longPath = "/" + std::string(107, 's');
  CHECK(errorOf("trust_domain: example.org\nsocket_path: " + longPath + "\n") ==
        "config.yaml:2: socket_path: \"" + longPath +
            "\" is 108 bytes; a Unix socket path holds at most 107");
}

TEST_CASE("the authority section is checked key by key", "[daemon][config]") {
  requireAllRejected({
      {"authority: self_signed\n", "config.yaml:2: authority: expected a map, got a string"},
      {"authority:\n  upstrem: disk\n",
       "config.yaml:3: authority.upstrem: unknown key (known keys here: upstream, ca_ttl, disk, "
       "tpm, ca_key_type, jwt_key_type)"},
      {"authority:\n  upstream: vault\n",
       "config.yaml:3: authority.upstream: unknown mode \"vault\" (want self_signed, disk or tpm)"},
      {"authority:\n  tpm: {tcti: \"device:/dev/tpmrm0\"}\n",
       "config.yaml:3: authority.tpm: only used with upstream: tpm (upstream is self_signed)"},
      {"authority:\n  upstream: tpm\n  disk: {cert_file: a.pem, key_file: a.key}\n",
       "config.yaml:4: authority.disk: only used with upstream: disk (upstream is tpm)"},
      {"authority:\n  upstream: tpm\n  tpm:\n    device: /dev/tpmrm0\n",
       "config.yaml:5: authority.tpm.device: unknown key (known keys here: tcti, issuing_ttl, "
       "cert_file, bundle_file)"},
      {"authority:\n  upstream: tpm\n  tpm:\n    bundle_file: roots.pem\n",
       "config.yaml:5: authority.tpm.bundle_file: only used with authority.tpm.cert_file (the "
       "roots of its chain)"},
      {"authority:\n  upstream: tpm\n  tpm:\n    cert_file: \"\"\n",
       "config.yaml:5: authority.tpm.cert_file: empty path"},
      {"authority:\n  upstream: tpm\n  tpm:\n    issuing_ttl: 30s\n",
       "config.yaml:5: authority.tpm.issuing_ttl: must be at least 1m"},
      {"authority:\n  upstream: tpm\n  tpm:\n    issuing_ttl: soon\n",
       "config.yaml:5: authority.tpm.issuing_ttl: duration \"soon\" does not start with a "
       "number (write e.g. 5m)"},
      // X.509-SVIDs are signed by the in-memory issuing CA: their TTL is checked against it.
      {"authority:\n  upstream: tpm\n  tpm:\n    issuing_ttl: 1h\n",
       "config.yaml:5: authority.tpm.issuing_ttl: 1h is less than twice x509_svid_ttl (1h, the "
       "default): lower x509_svid_ttl or raise issuing_ttl"},
      {"x509_svid_ttl: 40m\nauthority:\n  upstream: tpm\n  tpm: {issuing_ttl: 1h}\n",
       "config.yaml:2: x509_svid_ttl: 40m is more than half of authority.tpm.issuing_ttl (1h): an "
       "SVID never outlives its CA, so it would be cut short"},
      {"authority:\n  upstream: tpm\n  tpm:\n    tcti: \"\"\n",
       "config.yaml:5: authority.tpm.tcti: want a TCTI such as device:/dev/tpmrm0 or "
       "swtpm:host=127.0.0.1,port=2321"},
      {"authority:\n  ca_ttl: 1y\n",
       "config.yaml:3: authority.ca_ttl: duration \"1y\" must be one number and one unit: s, "
       "m, h or d (e.g. 90m, not 1h30m)"},
      {"authority:\n  ca_ttl: 1h\n",
       "config.yaml:3: authority.ca_ttl: 1h is less than twice x509_svid_ttl (1h, the "
       "default): lower x509_svid_ttl or raise ca_ttl"},
      {"x509_svid_ttl: 4m\nauthority:\n  ca_ttl: 9m\n",
       "config.yaml:4: authority.ca_ttl: 9m is less than twice jwt_svid_ttl (5m, the default): "
       "lower jwt_svid_ttl or raise ca_ttl"},
      {"authority:\n  ca_key_type: ed25519\n",
       "config.yaml:3: authority.ca_key_type: unknown key type \"ed25519\": want one of "
       "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096"},
      {"authority:\n  jwt_key_type: RSA-2048\n",
       "config.yaml:3: authority.jwt_key_type: unknown key type \"RSA-2048\": want one of "
       "ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096"},
      {"authority:\n  disk: {cert_file: a.pem, key_file: a.key}\n",
       "config.yaml:3: authority.disk: only used with upstream: disk (upstream is self_signed)"},
      {"authority:\n  upstream: disk\n",
       "config.yaml:3: authority.disk: missing: upstream: disk needs disk.cert_file and "
       "disk.key_file"},
      {"authority:\n  upstream: disk\n  disk: a.pem\n",
       "config.yaml:4: authority.disk: expected a map, got a string"},
      {"authority:\n  upstream: disk\n  disk:\n    cert_file: a.pem\n",
       "config.yaml:4: authority.disk.key_file: missing: upstream: disk needs the upstream "
       "CA's private key (PEM, mode 0600)"},
      {"authority:\n  upstream: disk\n  disk:\n    key_file: a.key\n",
       "config.yaml:4: authority.disk.cert_file: missing: upstream: disk needs the upstream "
       "CA's certificate (PEM)"},
      {"authority:\n  upstream: disk\n  disk:\n    cert: a.pem\n",
       "config.yaml:5: authority.disk.cert: unknown key (known keys here: cert_file, key_file, "
       "bundle_file)"},
      {"authority:\n  upstream: disk\n  disk:\n    cert_file: a.pem\n    key_file: \"\"\n",
       "config.yaml:6: authority.disk.key_file: empty path"},
  });
}

TEST_CASE("the health and attestors sections are checked", "[daemon][config]") {
  requireAllRejected({
      {"health: 8089\n", "config.yaml:2: health: expected a map, got a string"},
      {"health:\n  port: 8089\n",
       "config.yaml:3: health.port: unknown key (known keys here: listen)"},
      {"health:\n  listen: 8089\n",
       "config.yaml:3: health.listen: \"8089\" is not host:port (e.g. 127.0.0.1:8089)"},
      {"health:\n  listen: localhost:65536\n",
       "config.yaml:3: health.listen: \"localhost:65536\" is not host:port (e.g. "
       "127.0.0.1:8089)"},
      {"health:\n  listen: \"::1:8089\"\n",
       "config.yaml:3: health.listen: \"::1:8089\" is not host:port (e.g. 127.0.0.1:8089)"},
      {"attestors: [unix]\n",
       "config.yaml:2: attestors: expected a map of attestor names (e.g. unix: {}), got a "
       "sequence"},
      {"attestors:\n",
       "config.yaml:2: attestors: expected a map of attestor names (e.g. unix: "
       "{}), got null"},
      {"attestors:\n  unix: yes\n",
       "config.yaml:3: attestors.unix: expected a map (the attestor's settings) or nothing, got "
       "a string"},
      {"attestors:\n  Unix: {}\n",
       "config.yaml:3: attestors: an attestor name is lowercase letters, digits, '_' or '-' "
       "(e.g. unix)"},
      {"attestors:\n  unix: {}\n  unix: {}\n",
       "config.yaml:4: attestors.unix: attestor configured twice"},
  });
  auto ok = parseConfig(
      "trust_domain: example.org\nhealth: {listen: \"localhost:0\"}\n"
      "attestors:\n  unix:\n",
      "config.yaml");
  REQUIRE(ok);
  CHECK(ok->healthListen == "localhost:0");
  CHECK(ok->attestors["unix"].IsNull());
}

TEST_CASE("authority.upstream: tpm takes a TCTI and round-trips", "[daemon][config][tpm]") {
  auto dflt = parseConfig("trust_domain: example.org\nauthority:\n  upstream: tpm\n", "c.yaml");
  REQUIRE(dflt);
  CHECK(dflt->authority.upstream == svid::UpstreamMode::Tpm);
  CHECK(dflt->authority.tpmTcti == "device:/dev/tpmrm0");
  CHECK(dflt->authority.issuingTtl == Seconds(2 * 3600));  // the in-memory issuing CA
  auto set = parseConfig(
      "trust_domain: example.org\nx509_svid_ttl: 10m\nauthority:\n  upstream: tpm\n  tpm:\n"
      "    tcti: swtpm:host=127.0.0.1,port=2321\n    issuing_ttl: 20m\n",
      "c.yaml");
  REQUIRE(set);
  CHECK(set->authority.tpmTcti == "swtpm:host=127.0.0.1,port=2321");
  CHECK(set->authority.issuingTtl == Seconds(20 * 60));
  auto back = parseConfig(toYaml(*set), "c.yaml");
  REQUIRE(back);
  CHECK(back->authority.upstream == svid::UpstreamMode::Tpm);
  CHECK(back->authority.tpmTcti == set->authority.tpmTcti);
  CHECK(back->authority.issuingTtl == set->authority.issuingTtl);
  CHECK(set->authority.tpmCertFile.empty());
  // An operator-issued certificate for the TPM key (relative paths are the config file's).
  auto issued = parseConfig(
      "trust_domain: example.org\nauthority:\n  upstream: tpm\n  tpm:\n"
      "    cert_file: /etc/lanyard/tpm-ca.pem\n    bundle_file: /etc/lanyard/roots.pem\n",
      "c.yaml");
  REQUIRE(issued);
  CHECK(issued->authority.tpmCertFile == "/etc/lanyard/tpm-ca.pem");
  CHECK(issued->authority.tpmBundleFile == "/etc/lanyard/roots.pem");
  auto issuedBack = parseConfig(toYaml(*issued), "c.yaml");
  REQUIRE(issuedBack);
  CHECK(issuedBack->authority.tpmCertFile == issued->authority.tpmCertFile);
  CHECK(issuedBack->authority.tpmBundleFile == issued->authority.tpmBundleFile);
  // Other upstreams keep each generation's X.509 CA on disk.
  auto disk = parseConfig("trust_domain: example.org\n", "c.yaml");
  REQUIRE(disk);
  CHECK(disk->authority.issuingTtl == Seconds(0));
}

TEST_CASE("node_attestors.tpm is checked key by key", "[daemon][config][tpm]") {
  requireAllRejected({
      {"node_attestors: [tpm]\n", "config.yaml:2: node_attestors: expected a map, got a sequence"},
      {"node_attestors:\n  tmp: {}\n",
       "config.yaml:3: node_attestors.tmp: unknown key (known keys here: tpm)"},
      {"node_attestors:\n  tpm:\n    pcr: [0]\n",
       "config.yaml:4: node_attestors.tpm.pcr: unknown key (known keys here: tcti, pcrs, "
       "ek_handle, ek_ca_bundle, remeasure_interval)"},
      {"node_attestors:\n  tpm:\n    pcrs: [0, 24]\n",
       "config.yaml:4: node_attestors.tpm.pcrs[1]: \"24\" is not a PCR index (0 to 23)"},
      {"node_attestors:\n  tpm:\n    pcrs: [7, 7]\n",
       "config.yaml:4: node_attestors.tpm.pcrs[1]: PCR 7 is listed twice"},
      {"node_attestors:\n  tpm:\n    pcrs: [-1]\n",
       "config.yaml:4: node_attestors.tpm.pcrs[0]: \"-1\" is not a PCR index (0 to 23)"},
      {"node_attestors:\n  tpm:\n    ek_handle: 0x01c00002\n",
       "config.yaml:4: node_attestors.tpm.ek_handle: \"0x01c00002\" is not a persistent handle "
       "(0x81000000 to 0x81ffffff, e.g. 0x81010001)"},
      {"node_attestors:\n  tpm:\n    remeasure_interval: 0s\n",
       "config.yaml:4: node_attestors.tpm.remeasure_interval: duration \"0s\" must be positive"},
      {"node_attestors:\n  tpm:\n    tcti: \"\"\n",
       "config.yaml:4: node_attestors.tpm.tcti: want a TCTI such as device:/dev/tpmrm0 or "
       "swtpm:host=127.0.0.1,port=2321"},
  });
  auto none = parseConfig("trust_domain: example.org\n", "config.yaml");
  REQUIRE(none);
  CHECK_FALSE(none->tpm);
  auto defaults = parseConfig("trust_domain: example.org\nnode_attestors:\n  tpm:\n", "c.yaml");
  REQUIRE(defaults);
  REQUIRE(defaults->tpm);
  CHECK(*defaults->tpm == TpmNodeConfig{});
  auto set = parseConfig(
      "trust_domain: example.org\nnode_attestors:\n  tpm:\n    tcti: swtpm:port=2321\n"
      "    pcrs: [16, 0, 7]\n    ek_handle: 0x81010002\n    ek_ca_bundle: ca.pem\n"
      "    remeasure_interval: 5m\n",
      "/etc/lanyard/c.yaml");
  REQUIRE(set);
  CHECK(set->tpm->tcti == "swtpm:port=2321");
  CHECK(set->tpm->pcrs == std::vector<uint32_t>{0, 7, 16});
  CHECK(set->tpm->ekHandle == 0x81010002U);
  CHECK(set->tpm->ekCaBundle == "/etc/lanyard/ca.pem");
  CHECK(set->tpm->remeasureInterval == Seconds(300));
  auto back = parseConfig(toYaml(*set), "/elsewhere/c.yaml");
  REQUIRE(back);
  CHECK(back->tpm == set->tpm);
}

TEST_CASE("entries are checked key by key", "[daemon][config]") {
  requireAllRejected({
      {"entries: {}\n", "config.yaml:2: entries: expected a sequence, got a map"},
      {"entries:\n  - spiffe://example.org/a\n",
       "config.yaml:3: entries[0]: expected a map (one entry), got a string"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selector: [unix:uid:1]\n",
       "config.yaml:4: entries[0].selector: unknown key (known keys here: spiffe_id, "
       "selectors, x509_svid_ttl, jwt_svid_ttl, dns_names, hint)"},
      {"entries:\n  - selectors: [unix:uid:1]\n",
       "config.yaml:3: entries[0].spiffe_id: missing: the SPIFFE ID this entry gives its "
       "callers"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n",
       "config.yaml:3: entries[0].selectors: missing: an entry needs at least one selector"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: []\n",
       "config.yaml:4: entries[0].selectors: an entry needs at least one selector"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: unix:uid:1\n",
       "config.yaml:4: entries[0].selectors: expected a sequence, got a string"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1, unix]\n",
       "config.yaml:4: entries[0].selectors[1]: selector \"unix\" has no key: write "
       "type:key:value (e.g. unix:uid:1000), or type:key for \"any value\""},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors:\n      - unix:uid:1\n"
       "      - {unix: 1}\n",
       "config.yaml:6: entries[0].selectors[1]: expected a string, got a map"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1, "
       "unix:uid:1]\n",
       "config.yaml:4: entries[0].selectors[1]: \"unix:uid:1\" is listed twice"},
      {"entries:\n  - spiffe_id: [spiffe://example.org/a]\n    selectors: [unix:uid:1]\n",
       "config.yaml:3: entries[0].spiffe_id: expected a string, got a sequence"},
      {"entries:\n  - spiffe_id: spiffe://other.org/a\n    selectors: [unix:uid:1]\n",
       "config.yaml:3: entries[0].spiffe_id: trust domain \"other.org\" is not the configured "
       "trust domain \"example.org\""},
      {"entries:\n  - spiffe_id: spiffe://example.org\n    selectors: [unix:uid:1]\n",
       "config.yaml:3: entries[0].spiffe_id: \"spiffe://example.org\" is the trust domain's own "
       "ID; an SVID needs a path (X509-2)"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a/\n    selectors: [unix:uid:1]\n",
       "config.yaml:3: entries[0].spiffe_id: path has a trailing '/'"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a%20b\n    selectors: [unix:uid:1]\n",
       "config.yaml:3: entries[0].spiffe_id: path contains '%' (percent-encoding is not "
       "allowed)"},
      {"entries:\n  - spiffe_id: spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}\n"
       "    selectors: [k8s:ns]\n",
       "config.yaml:3: entries[0].spiffe_id: placeholder {k8s:sa} names no selector of this "
       "entry (add k8s:sa to its selectors)"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1]\n"
       "    x509_svid_ttl: 1d\n",
       "config.yaml:5: entries[0].x509_svid_ttl: 1d is more than half of authority.ca_ttl "
       "(1d): an SVID never outlives its CA, so it would be cut short"},
      {"authority: {upstream: tpm}\nentries:\n  - spiffe_id: spiffe://example.org/a\n"
       "    selectors: [unix:uid:1]\n    x509_svid_ttl: 90m\n",
       "config.yaml:6: entries[0].x509_svid_ttl: 90m is more than half of "
       "authority.tpm.issuing_ttl (2h): an SVID never outlives its CA, so it would be cut short"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1]\n"
       "    jwt_svid_ttl: 5\n",
       "config.yaml:5: entries[0].jwt_svid_ttl: missing unit (s, m, h or d) after \"5\""},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1]\n"
       "    dns_names: [ok.example, a_b]\n",
       "config.yaml:5: entries[0].dns_names[1]: DNS name \"a_b\" is not a host name (letters, "
       "digits, '-' and '.' only; '*.' may lead)"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1]\n"
       "    dns_names: [a.example, a.example]\n",
       "config.yaml:5: entries[0].dns_names[1]: \"a.example\" is listed twice"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1]\n"
       "    dns_names: a.example\n",
       "config.yaml:5: entries[0].dns_names: expected a sequence, got a string"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1]\n"
       "    hint: {a: b}\n",
       "config.yaml:5: entries[0].hint: expected a string, got a map"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1]\n"
       "    hint: \"a\\nb\"\n",
       "config.yaml:5: entries[0].hint: hint \"a\\x0ab\" contains a control character"},
      {"entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1, unix:gid:2]\n"
       "  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:gid:2, unix:uid:1]\n",
       "config.yaml:5: entries[1]: same spiffe_id and selectors as entries[0]"},
      {"entries:\n  -\n", "config.yaml:2: entries[0]: expected a map (one entry), got null"},
  });
  CHECK(errorOf("trust_domain: example.org\nentries:\n  - spiffe_id: spiffe://example.org/a\n"
                "    selectors: [unix:uid:1]\n    hint: " +
                std::string(1025, 'h') + "\n") ==
        "config.yaml:5: entries[0].hint: hint is 1025 bytes, longer than 1024 (WAPI-9)");
  CHECK(errorOf("trust_domain: example.org\nentries:\n  - spiffe_id: spiffe://example.org/" +
                std::string(2030, 'a') + "\n    selectors: [unix:uid:1]\n") ==
        "config.yaml:3: entries[0].spiffe_id: ID is 2051 bytes, longer than 2048 (ID-5)");
}

TEST_CASE("the same ID with different selectors is two entries, not a duplicate",
          "[daemon][config]") {
  auto c = parseConfig(R"(trust_domain: example.org
entries:
  - spiffe_id: spiffe://example.org/a
    selectors: [unix:uid:1]
  - spiffe_id: spiffe://example.org/a
    selectors: [unix:uid:2]
)",
                       "config.yaml");
  REQUIRE(c);
  CHECK(c->entries.size() == 2);
}

TEST_CASE("loadConfig names the file it could not read", "[daemon][config]") {
  testing::TempDir dir;
  auto missing = loadConfig(dir.file("missing.yaml"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::NotFound);
  CHECK_THAT(missing.error().message,
             Catch::StartsWith("loading configuration: opening " + dir.file("missing.yaml")));

  {
    std::ofstream big(dir.file("big.yaml"));
    big << "trust_domain: example.org\n# " << std::string(1 << 20, 'x') << "\n";
  }
  auto tooBig = loadConfig(dir.file("big.yaml"));
  REQUIRE_FALSE(tooBig);
  CHECK(tooBig.error().message == "loading configuration: " + dir.file("big.yaml") +
                                      " is more than the 1 MiB a configuration may be");

  {
    std::ofstream ok(dir.file("lanyard.yaml"));
    ok << "trust_domain: example.org\ndata_dir: state\nlog_level: bogus\n";
  }
  auto bad = loadConfig(dir.file("lanyard.yaml"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == dir.file("lanyard.yaml") +
                                   ":3: log_level: unknown level \"bogus\" (want debug, info, "
                                   "warn or error)");
  {
    std::ofstream ok(dir.file("lanyard.yaml"));
    ok << "trust_domain: example.org\ndata_dir: state\n";
  }
  auto good = loadConfig(dir.file("lanyard.yaml"));
  REQUIRE(good);
  CHECK(good->dataDir == dir.file("state"));
}

// Random bytes, and random mutations of a valid file, never crash or throw (a fuzzer drives
// parseConfig() the same way).
TEST_CASE("parseConfig survives random and mutated input", "[daemon][config][fuzz]") {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::string valid = kFullConfig;
  const std::string alphabet = "{}[]:,-?&*!|>'\"%@`#\n \t{k8s:ns}/.";
  size_t accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string input;
    if (i % 3 == 0) {
      input.resize(rng() % 256);
      for (char& c : input) {
        c = static_cast<char>(byte(rng));
      }
    } else {
      input = valid;
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        const size_t at = rng() % input.size();
        input[at] = i % 3 == 1 ? static_cast<char>(byte(rng)) : alphabet[rng() % alphabet.size()];
      }
    }
    auto c = parseConfig(input, "fuzz.yaml");
    if (c) {
      ++accepted;
    } else {
      REQUIRE_THAT(c.error().message, Catch::StartsWith("fuzz.yaml"));
    }
  }
  CHECK(accepted < 3000);
  // Deep nesting hits yaml-cpp's depth guard, not the stack.
  CHECK_FALSE(parseConfig(std::string(100000, '['), "fuzz.yaml"));
  CHECK_FALSE(parseConfig("trust_domain: " + std::string(100000, '{'), "fuzz.yaml"));
}

}  // namespace
}  // namespace lanyard::daemon
