// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/systemd/systemd_attestor.cpp against fake cgroup files, and its settings
// (config.cpp) through the registered "systemd" factory. The D-Bus half: systemd_bus_test.cpp.
#include "attestors/systemd/systemd_attestor.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "attestors/registry.h"
#include "support/result_matchers.h"

namespace lanyard::attestors::systemd_unit {
namespace {

Result<std::vector<Selector>> attestWith(const std::string& cgroupText) {
  SystemdAttestor a([cgroupText](pid_t) -> Result<std::string> { return cgroupText; });
  return a.attest({42, 0, 0, -1}, std::chrono::steady_clock::now() + std::chrono::seconds(1));
}

TEST_CASE("the systemd unit becomes systemd:id", "[attestors][systemd]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0::/system.slice/nginx.service\n", "id:nginx.service"},
      {"1:name=systemd:/system.slice/system-getty.slice/getty@tty1.service\n0::/\n",
       "id:getty@tty1.service"},
      {"0::/user.slice/user-1000.slice/session-3.scope\n", "id:session-3.scope"},
      {"0::/user.slice/user-1000.slice/user@1000.service/app.slice/evil.service\n",
       "id:user@1000.service"},
      {"0::/system.slice/docker-3a8f1c0e2b4d6f8a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a"
       ".scope/system.slice/sshd.service\n",
       "id:docker-3a8f1c0e2b4d6f8a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a.scope"},
  };
  for (const auto& [text, want] : cases) {
    auto got = attestWith(text);
    INFO(text);
    REQUIRE(got);
    CHECK(*got == std::vector<Selector>{{"systemd", want}});
  }
}

TEST_CASE("a caller in no unit gets no systemd selectors", "[attestors][systemd]") {
  for (const char* text : {"0::/\n", "9:name=systemd:/\n0::/\n", "0::/docker/abc\n"}) {
    auto got = attestWith(text);
    INFO(text);
    REQUIRE(got);
    CHECK(got->empty());
  }
}

TEST_CASE("unreadable or malformed cgroups fail the systemd attestor", "[attestors][systemd]") {
  SystemdAttestor gone([](pid_t) -> Result<std::string> {
    return fail(Code::NotFound, "reading /proc/42/cgroup: No such file or directory");
  });
  auto got = gone.attest({42, 0, 0, -1}, std::chrono::steady_clock::now());
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::Unavailable);
  CHECK(got.error().message ==
        "attesting pid 42: reading /proc/42/cgroup: No such file or directory");
  auto bad = attestWith("garbage");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Code::InvalidArgument);
}

std::string errorOf(const std::string& yaml) {
  auto made = Registry::create("systemd", YAML::Load(yaml));
  INFO(yaml);
  REQUIRE_FALSE(made);
  CHECK(made.error().code == Code::InvalidArgument);
  return made.error().message;
}

TEST_CASE("the systemd attestor's settings", "[attestors][systemd][config]") {
  for (const char* yaml :
       {"", "{}", "~", "dbus: off", "dbus: unix:path=/run/dbus/system_bus_socket",
        "dbus: unix:abstract=/tmp/dbus-x,guid=0123",
        "dbus: 'unix:path=/a;tcp:host=localhost,port=1'"}) {
    auto made = Registry::create("systemd", YAML::Load(yaml));
    INFO(yaml);
    REQUIRE(made);
    CHECK((*made)->name() == "systemd");
    auto got = (*made)->attest({::getpid(), ::geteuid(), ::getegid(), -1},
                               std::chrono::steady_clock::now() + std::chrono::seconds(5));
    CHECK(got);
  }
  const std::string want =
      ": want a D-Bus address such as unix:path=/run/dbus/system_bus_socket, or off, got ";
  CHECK(errorOf("dbus: 5") == "configuring attestor \"systemd\": dbus (line 1)" + want + "\"5\"");
  CHECK(errorOf("dbus: ''") == "configuring attestor \"systemd\": dbus (line 1)" + want + "\"\"");
  CHECK(errorOf("dbus: unix") ==
        "configuring attestor \"systemd\": dbus (line 1)" + want + "\"unix\"");
  CHECK(errorOf("dbus: 'unix:path'") ==
        "configuring attestor \"systemd\": dbus (line 1)" + want + "\"unix:path\"");
  CHECK(errorOf("dbus: ':path=/x'") ==
        "configuring attestor \"systemd\": dbus (line 1)" + want + "\":path=/x\"");
  CHECK(errorOf("dbus: [a]") ==
        "configuring attestor \"systemd\": dbus (line 1)" + want + "a list");
  CHECK(errorOf("\ndbus: off\nnope: 1") ==
        "configuring attestor \"systemd\": unknown key \"nope\" (line 3) (known: dbus)");
  CHECK(errorOf("[1]") ==
        "configuring attestor \"systemd\": settings (line 1): want a map of settings, got a list");
}

}  // namespace
}  // namespace lanyard::attestors::systemd_unit
