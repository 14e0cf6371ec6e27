// SPDX-License-Identifier: Apache-2.0
// Tests for daemon/systemd_notifier.cpp: $NOTIFY_SOCKET and $WATCHDOG_* parsing, and the
// datagrams a notifier sends to a socket the test reads.
#include "daemon/systemd_notifier.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <string>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "support/result_matchers.h"
#include "support/temp_dir.h"

namespace lanyard::daemon {
namespace {

using std::chrono::microseconds;

// A datagram socket bound where a NotifyAddress points, read by the test.
class Receiver {
 public:
  explicit Receiver(const NotifyAddress& address) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address.addr), address.length) == 0);
  }
  ~Receiver() { ::close(fd_); }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  /// The next datagram, or "" after `timeoutMs`.
  std::string next(int timeoutMs = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeoutMs) != 1) {
      return "";
    }
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
};

TEST_CASE("NOTIFY_SOCKET takes an absolute path or an @abstract name", "[daemon][systemd]") {
  auto path = parseNotifySocket("/run/systemd/notify");
  REQUIRE(path);
  CHECK(std::string(path->addr.sun_path) == "/run/systemd/notify");
  CHECK(path->length == offsetof(sockaddr_un, sun_path) + 20);  // with the NUL

  auto abstract = parseNotifySocket("@lanyard/notify");
  REQUIRE(abstract);
  CHECK(abstract->addr.sun_path[0] == '\0');
  CHECK(std::string(abstract->addr.sun_path + 1, 14) == "lanyard/notify");
  CHECK(abstract->length == offsetof(sockaddr_un, sun_path) + 15);  // no trailing NUL
}

TEST_CASE("a malformed NOTIFY_SOCKET is rejected with a reason", "[daemon][systemd]") {
  for (const char* bad : {"", "/", "@", "relative/notify", "notify"}) {
    INFO(bad);
    auto r = parseNotifySocket(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::InvalidArgument);
    CHECK(r.error().message ==
          "NOTIFY_SOCKET \"" + std::string(bad) + "\" is neither an absolute path nor @abstract");
  }
  auto tooLong = parseNotifySocket("/" + std::string(200, 'x'));
  REQUIRE_FALSE(tooLong);
  CHECK(tooLong.error().message == "NOTIFY_SOCKET is longer than 107 bytes");
}

TEST_CASE("WATCHDOG_USEC applies unless WATCHDOG_PID names another process", "[daemon][systemd]") {
  CHECK(parseWatchdog(nullptr, nullptr, 42).value() == std::nullopt);
  CHECK(parseWatchdog(nullptr, "42", 42).value() == std::nullopt);
  CHECK(parseWatchdog("30000000", nullptr, 42).value() == microseconds(30000000));
  CHECK(parseWatchdog("1000000", "42", 42).value() == microseconds(1000000));
  CHECK(parseWatchdog("1000000", "43", 42).value() == std::nullopt);
}

TEST_CASE("a malformed WATCHDOG_USEC or WATCHDOG_PID is rejected with a reason",
          "[daemon][systemd]") {
  for (const char* bad : {"", "0", "-5", "1s", " 5", "99999999999999999999999"}) {
    INFO(bad);
    auto r = parseWatchdog(bad, nullptr, 42);
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "WATCHDOG_USEC \"" + std::string(bad) + "\" is not a positive number");
  }
  auto pid = parseWatchdog("1000000", "self", 42);
  REQUIRE_FALSE(pid);
  CHECK(pid.error().message == "WATCHDOG_PID \"self\" is not a process id");
}

TEST_CASE("the notifier sends READY, RELOADING and STOPPING datagrams", "[daemon][systemd]") {
  testing::TempDir dir;
  auto address = parseNotifySocket(dir.file("notify"));
  REQUIRE(address);
  Receiver receiver(*address);
  SystemdNotifier notifier(*address, std::nullopt);
  CHECK(notifier.enabled());

  notifier.ready("serving the Workload API on /run/lanyard/agent.sock");
  CHECK(receiver.next() == "READY=1\nSTATUS=serving the Workload API on /run/lanyard/agent.sock");
  notifier.reloading();
  std::string reloading = receiver.next();
  CHECK(reloading.rfind("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=", 0) ==
        0);
  notifier.stopping();
  CHECK(receiver.next() == "STOPPING=1\nSTATUS=stopping");
}

TEST_CASE("the notifier reaches an abstract NOTIFY_SOCKET", "[daemon][systemd]") {
  const std::string name = "@lanyard-notifier-test-" + std::to_string(::getpid());
  auto address = parseNotifySocket(name);
  REQUIRE(address);
  Receiver receiver(*address);
  CHECK(SystemdNotifier(*address, std::nullopt).notify("READY=1"));
  CHECK(receiver.next() == "READY=1");
}

TEST_CASE("sending without a receiver or without NOTIFY_SOCKET fails quietly",
          "[daemon][systemd]") {
  SystemdNotifier disabled;
  CHECK_FALSE(disabled.enabled());
  CHECK_FALSE(disabled.notify("READY=1"));

  testing::TempDir dir;
  auto address = parseNotifySocket(dir.file("nobody-listens"));
  REQUIRE(address);
  SystemdNotifier orphan(*address, std::nullopt);
  CHECK_FALSE(orphan.notify("READY=1"));  // ENOENT: logged at debug, not thrown
  orphan.ready("still fine");
}

TEST_CASE("the watchdog pings at half the interval while the io loop runs", "[daemon][systemd]") {
  testing::TempDir dir;
  auto address = parseNotifySocket(dir.file("notify"));
  REQUIRE(address);
  Receiver receiver(*address);
  // The io_context outlives the notifiers: their timers are destroyed first (as in Daemon).
  boost::asio::io_context io;
  SystemdNotifier notifier(*address, microseconds(100000));  // pings every 50 ms
  notifier.startWatchdog(io);
  const auto started = std::chrono::steady_clock::now();
  io.run_for(std::chrono::milliseconds(275));
  notifier.stopWatchdog();
  io.run();  // the cancelled wait completes; nothing is left
  const auto ran = std::chrono::steady_clock::now() - started;

  int pings = 0;
  for (std::string m = receiver.next(0); !m.empty(); m = receiver.next(0)) {
    CHECK(m == "WATCHDOG=1");
    ++pings;
  }
  // One at start, then one per 50 ms: 6 in 275 ms (a slow machine may miss one or two).
  INFO("pings: " << pings << " in "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(ran).count() << " ms");
  CHECK(pings >= 4);
  CHECK(pings <= 7);

  SystemdNotifier noWatchdog(*address, std::nullopt);
  noWatchdog.startWatchdog(io);
  io.restart();
  io.run_for(std::chrono::milliseconds(120));
  CHECK(receiver.next(0).empty());
}

}  // namespace
}  // namespace lanyard::daemon
