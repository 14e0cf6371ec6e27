// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/container/config.cpp through the registered "docker" factory: valid
// configs, then one broken config per key with its error text (Envoy config_test.cc style).
#include <unistd.h>

#include <catch2/catch.hpp>

#include "attestors/registry.h"
#include "support/result_matchers.h"

namespace lanyard::attestors {
namespace {

std::string errorOf(const std::string& name, const std::string& yaml) {
  auto made = Registry::create(name, YAML::Load(yaml));
  INFO(yaml);
  REQUIRE_FALSE(made);
  CHECK(made.error().code == Code::InvalidArgument);
  return made.error().message;
}

TEST_CASE("valid docker configs build the attestor", "[attestors][docker][config]") {
  for (const char* yaml : {
           "",
           "{}",
           "docker_socket_path: unix:///var/run/docker.sock\n"
           "podman_socket_path: unix:///run/podman/podman.sock\n"
           "cache_ttl: 5s\nmax_response_bytes: 1048576\n",
           "docker_socket_path: /tmp/d.sock\npodman_socket_path: \"\"\ncache_ttl: 0\n",
           "cache_ttl: 250ms\n",
           "cache_ttl: 1m\n",
       }) {
    auto made = Registry::create("docker", YAML::Load(yaml));
    INFO(yaml);
    REQUIRE(made);
    CHECK((*made)->name() == "docker");
    // This test process is in no container: nothing to say, and no engine is asked.
    auto got = (*made)->attest({::getpid(), ::geteuid(), ::getegid(), -1},
                               std::chrono::steady_clock::now() + std::chrono::seconds(5));
    if (got) {
      CHECK(got->empty());
    }
  }
}

TEST_CASE("broken docker configs name the key", "[attestors][docker][config]") {
  const std::string prefix = "configuring attestor \"docker\": ";
  CHECK(errorOf("docker", "[1]") ==
        prefix + "settings (line 1): want a map of settings, got a list");
  CHECK(errorOf("docker", "docker_socket_path: tcp://127.0.0.1:2375") ==
        prefix +
            "docker_socket_path (line 1): want unix:///path/to/socket, got "
            "\"tcp://127.0.0.1:2375\"");
  CHECK(errorOf("docker", "docker_socket_path: \"\"") ==
        prefix + "docker_socket_path (line 1): want an absolute socket path, got \"\"");
  CHECK(errorOf("docker", "docker_socket_path: [a]") ==
        prefix + "docker_socket_path (line 1): want unix:///path/to/socket, got a list");
  CHECK(errorOf("docker", "podman_socket_path: relative.sock") ==
        prefix +
            "podman_socket_path (line 1): want an absolute socket path, got "
            "\"relative.sock\"");
  CHECK(errorOf("docker", "cache_ttl: 5") ==
        prefix + "cache_ttl (line 1): want a duration up to 1h such as 500ms, 5s or 0, got \"5\"");
  CHECK(errorOf("docker", "cache_ttl: 2h") ==
        prefix + "cache_ttl (line 1): want a duration up to 1h such as 500ms, 5s or 0, got \"2h\"");
  CHECK(errorOf("docker", "cache_ttl: -1s") ==
        prefix +
            "cache_ttl (line 1): want a duration up to 1h such as 500ms, 5s or 0, got \"-1s\"");
  CHECK(errorOf("docker", "max_response_bytes: 10") ==
        prefix +
            "max_response_bytes (line 1): want a size in bytes (an integer >= 1024), got \"10\"");
  CHECK(errorOf("docker", "container_id_cgroup_matchers: [x]") ==
        prefix +
            "unknown key \"container_id_cgroup_matchers\" (line 1) (known: docker_socket_path, "
            "podman_socket_path, cache_ttl, max_response_bytes)");
}

}  // namespace
}  // namespace lanyard::attestors
