// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/k8s/config.cpp through the registered "k8s" factory: valid configs, then
// one broken config per key with its error text (Envoy config_test.cc style). The test never
// names config.cpp's symbols, so that registry_test.cpp still proves link_whole:.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "attestors/registry.h"
#include "support/result_matchers.h"

namespace lanyard::attestors {
namespace {

// The YAML on one line: Catch2's TAP reporter prints INFO text with every assertion, and a
// line break there would be read as a stray TAP line.
std::string oneLine(std::string yaml) {
  std::replace(yaml.begin(), yaml.end(), '\n', ' ');
  return yaml;
}

std::unique_ptr<Attestor> mustCreate(const std::string& yaml) {
  auto made = Registry::create("k8s", YAML::Load(yaml));
  INFO(oneLine(yaml));
  REQUIRE(made);
  return std::move(made).value();
}

std::string errorOf(const std::string& yaml) {
  auto made = Registry::create("k8s", YAML::Load(yaml));
  INFO(oneLine(yaml));
  REQUIRE_FALSE(made);
  CHECK(made.error().code == Code::InvalidArgument);
  return made.error().message;
}

TEST_CASE("a valid k8s config sets every key, and this test process is in no pod",
          "[attestors][k8s][config]") {
  // Any CA bundle will do for loading; the system's is there on Debian.
  std::string systemCa = "/etc/ssl/certs/ca-certificates.crt";
  SECTION("the read-only port (no CA needed)") {
    auto attestor = mustCreate(
        "kubelet_read_only_port: 10255\nkubelet_host: 127.0.0.1\nnode_name: node-1\n"
        "node_name_env: ''\nmax_poll_attempts: 3\npoll_retry_interval: 250ms\n"
        "pod_list_cache_ttl: 0s\nmax_pod_list_size: 1048576\n");
    CHECK(attestor->name() == "k8s");
    auto got = attestor->attest({::getpid(), ::geteuid(), ::getegid(), -1},
                                std::chrono::steady_clock::now() + std::chrono::seconds(5));
    REQUIRE(got);
    CHECK(got->empty());  // not in a kubepods cgroup: nothing to say, and no kubelet needed
  }
  SECTION("the secure port with a CA and a token path") {
    mustCreate("kubelet_secure_port: 10250\nkubelet_ca_path: " + systemCa +
               "\ntoken_path: /nonexistent/token\nskip_kubelet_verification: false\n"
               "poll_retry_interval: 1s\n");
  }
  SECTION("the secure port without verification needs no CA") {
    mustCreate("skip_kubelet_verification: true\nkubelet_ca_path: /nonexistent/ca.pem\n");
  }
  SECTION("a CA or token not there yet is no startup error (mounted later, read per fetch)") {
    mustCreate(
        "kubelet_ca_path: /nonexistent/ca.pem\ntoken_path: /nonexistent/token\n"
        "kubelet_host_env: LANYARD_TEST_UNSET_VARIABLE\n");
  }
}

TEST_CASE("each broken k8s setting is refused naming the key", "[attestors][k8s][config]") {
  CHECK_THAT(errorOf("kubelet_read_only_port: 70000\n"),
             Catch::Contains("kubelet_read_only_port (line 1): want an integer from 0 to 65535"));
  CHECK_THAT(errorOf("kubelet_read_only_port: -1\n"), Catch::Contains("kubelet_read_only_port"));
  CHECK_THAT(errorOf("kubelet_secure_port: 0\n"),
             Catch::Contains("kubelet_secure_port (line 1): want an integer from 1 to 65535"));
  CHECK_THAT(errorOf("kubelet_host: ''\nkubelet_read_only_port: 1\n"),
             Catch::Contains("kubelet_host (line 1): want a non-empty string"));
  CHECK_THAT(errorOf("kubelet_ca_path: [a]\n"), Catch::Contains("kubelet_ca_path (line 1)"));
  CHECK_THAT(errorOf("kubelet_host_env: [HOST_IP]\n"),
             Catch::Contains("kubelet_host_env (line 1)"));
  CHECK_THAT(errorOf("skip_kubelet_verification: maybe\n"),
             Catch::Contains("skip_kubelet_verification (line 1): want true or false"));
  CHECK_THAT(errorOf("token_path: {}\nkubelet_read_only_port: 1\n"),
             Catch::Contains("token_path (line 1)"));
  CHECK_THAT(errorOf("node_name: [x]\n"), Catch::Contains("node_name (line 1): want a string"));
  CHECK_THAT(errorOf("node_name_env: {a: b}\n"), Catch::Contains("node_name_env (line 1)"));
  CHECK_THAT(errorOf("max_poll_attempts: 0\n"),
             Catch::Contains("max_poll_attempts (line 1): want an integer from 1 to 10000"));
  CHECK_THAT(errorOf("poll_retry_interval: 0ms\n"),
             Catch::Contains("poll_retry_interval (line 1): want a duration"));
  CHECK_THAT(errorOf("poll_retry_interval: 5\n"), Catch::Contains("poll_retry_interval"));
  CHECK_THAT(errorOf("poll_retry_interval: 2h\n"), Catch::Contains("at most 1h"));
  CHECK_THAT(errorOf("pod_list_cache_ttl: soon\n"), Catch::Contains("pod_list_cache_ttl (line 1)"));
  CHECK_THAT(errorOf("max_pod_list_size: 100\n"),
             Catch::Contains("max_pod_list_size (line 1): want an integer from 4096"));
  CHECK_THAT(errorOf("kubelet_port: 1\n"),
             Catch::Contains("unknown key \"kubelet_port\" (line 1)") &&
                 Catch::Contains("(known: kubelet_read_only_port, kubelet_secure_port"));
  CHECK_THAT(errorOf("[1, 2]\n"), Catch::Contains("want a map of settings, got a list"));
}

TEST_CASE("node_name_env names the variable the node name is read from",
          "[attestors][k8s][config]") {
  // The name only matters for TLS server-name checks; here it must simply be accepted.
  ::setenv("LANYARD_TEST_NODE", "node-from-env", 1);
  mustCreate("node_name_env: LANYARD_TEST_NODE\nkubelet_read_only_port: 10255\n");
  ::unsetenv("LANYARD_TEST_NODE");
}

}  // namespace
}  // namespace lanyard::attestors
