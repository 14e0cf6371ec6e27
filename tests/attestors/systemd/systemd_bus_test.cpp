// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/systemd/systemd_bus.cpp and the D-Bus half of systemd_attestor.cpp:
// a real private dbus-daemon started per test, with a stand-in for systemd on it
// (fake_systemd1.py); the caller's cgroup is faked, its pid and pidfd are this process's.
#include "attestors/systemd/systemd_bus.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "attestors/systemd/private_bus.h"
#include "attestors/systemd/systemd_attestor.h"
#include "support/result_matchers.h"

namespace lanyard::attestors::systemd_unit {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::PrivateBus;
using testing::StandInSystemd;

// An attestor whose cgroup reader says `unit` is in system.slice, asking systemd on `address`.
SystemdAttestor attestorFor(const std::string& address, const std::string& unit) {
  std::string cgroup = "0::/system.slice/" + unit + "\n";
  return SystemdAttestor([cgroup](pid_t) -> Result<std::string> { return cgroup; },
                         std::make_unique<SystemdBus>(address));
}

// Fails the test with the bus's and the stand-in's stderr when the stand-in did not come up.
void requireReady(const StandInSystemd& systemd, const PrivateBus& bus) {
  if (!systemd.ready()) {
    FAIL("the stand-in systemd did not start:\n" << bus.logs());
  }
}

Caller self(int pidfd = -1) { return {::getpid(), ::geteuid(), ::getegid(), pidfd}; }

Deadline in(milliseconds ms) { return steady_clock::now() + ms; }

std::string pidLine(const char* method) {
  return std::string(method) + " " + std::to_string(::getpid());
}

// A pidfd of this process, closed with the object.
struct OwnPidfd {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  ~OwnPidfd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

const std::vector<Selector> kNginx = {
    {"systemd", "id:nginx.service"},
    {"systemd", "fragment_path:/lib/systemd/system/nginx.service"}};
const std::vector<Selector> kNginxIdOnly = {{"systemd", "id:nginx.service"}};

TEST_CASE("systemd on d-bus adds systemd:fragment_path", "[attestors][systemd][dbus]") {
  PrivateBus bus;
  SECTION("asked by pid when the caller has no pidfd") {
    StandInSystemd systemd(
        bus, {"--unit", "nginx.service", "--fragment", "/lib/systemd/system/nginx.service"});
    requireReady(systemd, bus);
    auto got = attestorFor(bus.address(), "nginx.service").attest(self(), in(milliseconds(5000)));
    INFO(bus.logs());
    REQUIRE(got);
    CHECK(*got == kNginx);
    CHECK(systemd.calls() == std::vector<std::string>{pidLine("GetUnitByPID")});
  }
  SECTION("asked by pidfd when the caller has one") {
    StandInSystemd systemd(
        bus, {"--unit", "nginx.service", "--fragment", "/lib/systemd/system/nginx.service"});
    requireReady(systemd, bus);
    OwnPidfd pidfd;
    REQUIRE(pidfd.fd >= 0);
    auto got =
        attestorFor(bus.address(), "nginx.service").attest(self(pidfd.fd), in(milliseconds(5000)));
    INFO(bus.logs());
    REQUIRE(got);
    CHECK(*got == kNginx);
    CHECK(systemd.calls() == std::vector<std::string>{pidLine("GetUnitByPIDFD")});
  }
  SECTION("by pid when systemd has no GetUnitByPIDFD (before 249), remembered per connection") {
    StandInSystemd systemd(bus, {"--no-pidfd", "--unit", "nginx.service", "--fragment",
                                 "/lib/systemd/system/nginx.service"});
    requireReady(systemd, bus);
    OwnPidfd pidfd;
    auto a = attestorFor(bus.address(), "nginx.service");
    for (int i = 0; i < 2; ++i) {
      auto got = a.attest(self(pidfd.fd), in(milliseconds(5000)));
      INFO(bus.logs());
      REQUIRE(got);
      CHECK(*got == kNginx);
    }
    CHECK(systemd.calls() ==
          std::vector<std::string>{pidLine("GetUnitByPID"), pidLine("GetUnitByPID")});
  }
}

TEST_CASE("without an address the system bus is asked, found as sd_bus_open_system finds it",
          "[attestors][systemd][dbus]") {
  PrivateBus bus;
  StandInSystemd systemd(
      bus, {"--unit", "nginx.service", "--fragment", "/lib/systemd/system/nginx.service"});
  requireReady(systemd, bus);
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);
  auto got = attestorFor("", "nginx.service").attest(self(), in(milliseconds(5000)));
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  INFO(bus.logs());
  REQUIRE(got);
  CHECK(*got == kNginx);
  CHECK(systemd.calls() == std::vector<std::string>{pidLine("GetUnitByPID")});
}

TEST_CASE("a transient unit (no FragmentPath) gets only systemd:id", "[attestors][systemd][dbus]") {
  PrivateBus bus;
  StandInSystemd systemd(bus, {"--unit", "run-u42.scope", "--fragment", ""});
  requireReady(systemd, bus);
  auto got = attestorFor(bus.address(), "run-u42.scope").attest(self(), in(milliseconds(5000)));
  INFO(bus.logs());
  REQUIRE(got);
  CHECK(*got == std::vector<Selector>{{"systemd", "id:run-u42.scope"}});
  CHECK(systemd.calls().size() == 1);  // it was asked
}

TEST_CASE("no bus at the address: only systemd:id, no error", "[attestors][systemd][dbus]") {
  testing::TempDir dir;
  SECTION("no socket") {
    auto a = attestorFor("unix:path=" + dir.file("nothing"), "nginx.service");
    for (int i = 0; i < 2; ++i) {  // the second attempt reconnects and finds nothing again
      auto got = a.attest(self(), in(milliseconds(5000)));
      REQUIRE(got);
      CHECK(*got == kNginxIdOnly);
    }
  }
  SECTION("a socket nobody accepts on (connection refused)") {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = dir.file("refused");
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);  // not listening
    auto got =
        attestorFor("unix:path=" + path, "nginx.service").attest(self(), in(milliseconds(5000)));
    ::close(fd);
    REQUIRE(got);
    CHECK(*got == kNginxIdOnly);
  }
}

TEST_CASE(
    "a bus without systemd on it: only systemd:id until systemd comes, then again after the "
    "bus goes",
    "[attestors][systemd][dbus]") {
  PrivateBus bus;
  auto a = attestorFor(bus.address(), "nginx.service");
  auto before = a.attest(self(), in(milliseconds(5000)));
  INFO(bus.logs());
  REQUIRE(before);
  CHECK(*before == kNginxIdOnly);

  auto systemd = std::make_unique<StandInSystemd>(
      bus, std::vector<std::string>{"--unit", "nginx.service", "--fragment",
                                    "/lib/systemd/system/nginx.service"});
  requireReady(*systemd, bus);
  auto during = a.attest(self(), in(milliseconds(5000)));
  REQUIRE(during);
  CHECK(*during == kNginx);

  systemd->stop();
  bus.stop();  // the connection breaks; the next attestation reconnects and finds no socket
  auto after = a.attest(self(), in(milliseconds(5000)));
  REQUIRE(after);
  CHECK(*after == kNginxIdOnly);

  REQUIRE(bus.start());  // a new bus at the same address, and systemd on it
  systemd = std::make_unique<StandInSystemd>(
      bus, std::vector<std::string>{"--unit", "nginx.service", "--fragment",
                                    "/lib/systemd/system/nginx.service"});
  requireReady(*systemd, bus);
  auto again = a.attest(self(), in(milliseconds(5000)));
  REQUIRE(again);
  CHECK(*again == kNginx);

  // The bus restarts between two attestations: the broken connection is replaced at once.
  systemd->stop();
  bus.stop();
  REQUIRE(bus.start());
  systemd = std::make_unique<StandInSystemd>(
      bus, std::vector<std::string>{"--unit", "nginx.service", "--fragment",
                                    "/lib/systemd/system/nginx.service"});
  requireReady(*systemd, bus);
  auto restarted = a.attest(self(), in(milliseconds(5000)));
  REQUIRE(restarted);
  CHECK(*restarted == kNginx);
}

TEST_CASE("systemd naming another unit than the cgroup fails the attestation",
          "[attestors][systemd][dbus]") {
  PrivateBus bus;
  SECTION("another unit") {
    StandInSystemd systemd(bus, {"--unit", "other.service"});
    requireReady(systemd, bus);
    auto got = attestorFor(bus.address(), "nginx.service").attest(self(), in(milliseconds(5000)));
    INFO(bus.logs());
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::PermissionDenied);
    CHECK(got.error().message == "attesting pid " + std::to_string(::getpid()) +
                                     ": systemd says it is in \"other.service\" but its cgroup "
                                     "says \"nginx.service\" (did the process exit?)");
  }
  SECTION("no unit at all (NoUnitForPID)") {
    StandInSystemd systemd(bus, {"--unit", ""});
    requireReady(systemd, bus);
    OwnPidfd pidfd;
    auto got =
        attestorFor(bus.address(), "nginx.service").attest(self(pidfd.fd), in(milliseconds(5000)));
    INFO(bus.logs());
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::PermissionDenied);
    CHECK_THAT(got.error().message, Catch::Contains("systemd says it is in no unit"));
  }
}

TEST_CASE("a systemd that does not answer fails at the deadline", "[attestors][systemd][dbus]") {
  PrivateBus bus;
  StandInSystemd systemd(bus, {"--hang", "--unit", "nginx.service"});
  requireReady(systemd, bus);
  auto a = attestorFor(bus.address(), "nginx.service");
  SECTION("one caller") {
    auto start = steady_clock::now();
    auto got = a.attest(self(), start + milliseconds(300));
    auto took = steady_clock::now() - start;
    INFO(bus.logs());
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::EndsWith("calling GetUnitByPID: timed out"));
    CHECK(took >= milliseconds(290));
    CHECK(took < milliseconds(1500));
    CHECK(systemd.calls().size() == 1);
  }
  SECTION("callers waiting for the connection give up at their own deadline") {
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    std::atomic<int64_t> longestMs{0};
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        auto start = steady_clock::now();
        auto got = a.attest(self(), start + milliseconds(400));
        auto ms = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count();
        failed += got ? 0 : 1;
        int64_t seen = longestMs.load();
        while (ms > seen && !longestMs.compare_exchange_weak(seen, ms)) {
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    CHECK(failed == 4);
    CHECK(longestMs.load() < 1500);
  }
}

TEST_CASE("many threads share one connection", "[attestors][systemd][dbus]") {
  PrivateBus bus;
  StandInSystemd systemd(
      bus, {"--unit", "nginx.service", "--fragment", "/lib/systemd/system/nginx.service"});
  requireReady(systemd, bus);
  auto a = attestorFor(bus.address(), "nginx.service");
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      OwnPidfd pidfd;
      for (int i = 0; i < 10; ++i) {
        auto got = a.attest(self(t % 2 == 0 ? pidfd.fd : -1), in(milliseconds(10000)));
        good += got && *got == kNginx ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  INFO(bus.logs());
  CHECK(good == 60);
  CHECK(systemd.calls().size() == 60);
}

}  // namespace
}  // namespace lanyard::attestors::systemd_unit
