// SPDX-License-Identifier: Apache-2.0
// SystemdNotifier: the sd_notify(3) datagram protocol and the watchdog timer.
#include "daemon/systemd_notifier.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace lanyard::daemon {
namespace {

constexpr const char* kNotifySocket = "NOTIFY_SOCKET";
constexpr const char* kWatchdogUsec = "WATCHDOG_USEC";
constexpr const char* kWatchdogPid = "WATCHDOG_PID";

// A positive decimal number, nothing else (no sign, no spaces).
std::optional<uint64_t> positiveNumber(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return std::nullopt;
  }
  return value;
}

uint64_t monotonicMicros() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

Result<NotifyAddress> parseNotifySocket(std::string_view value) {
  NotifyAddress out;
  out.addr.sun_family = AF_UNIX;
  const size_t room = sizeof(out.addr.sun_path);
  if (value.size() < 2 || (value[0] != '/' && value[0] != '@')) {
    return fail(Code::InvalidArgument, "NOTIFY_SOCKET \"" + std::string(value) +
                                           "\" is neither an absolute path nor @abstract");
  }
  if (value.find('\0') != std::string_view::npos || value.size() >= room) {
    return fail(Code::InvalidArgument,
                "NOTIFY_SOCKET is longer than " + std::to_string(room - 1) + " bytes");
  }
  std::memcpy(out.addr.sun_path, value.data(), value.size());
  if (value[0] == '@') {
    // Abstract: a leading NUL, and the length counts exactly the name (no trailing NUL).
    out.addr.sun_path[0] = '\0';
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size());
  } else {
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size() + 1);
  }
  return out;
}

Result<std::optional<std::chrono::microseconds>> parseWatchdog(const char* usec, const char* pid,
                                                               pid_t self) {
  if (usec == nullptr) {
    return std::optional<std::chrono::microseconds>();
  }
  auto interval = positiveNumber(usec);
  if (!interval) {
    return fail(Code::InvalidArgument,
                "WATCHDOG_USEC \"" + std::string(usec) + "\" is not a positive number");
  }
  if (pid != nullptr) {
    auto owner = positiveNumber(pid);
    if (!owner) {
      return fail(Code::InvalidArgument,
                  "WATCHDOG_PID \"" + std::string(pid) + "\" is not a process id");
    }
    if (*owner != static_cast<uint64_t>(self)) {
      return std::optional<std::chrono::microseconds>();  // another process's watchdog
    }
  }
  return std::optional<std::chrono::microseconds>(std::chrono::microseconds(*interval));
}

SystemdNotifier::SystemdNotifier(NotifyAddress address,
                                 std::optional<std::chrono::microseconds> watchdog)
    : address_(address), watchdog_(watchdog) {}

SystemdNotifier::~SystemdNotifier() = default;
SystemdNotifier::SystemdNotifier(SystemdNotifier&&) noexcept = default;
SystemdNotifier& SystemdNotifier::operator=(SystemdNotifier&&) noexcept = default;

SystemdNotifier SystemdNotifier::fromEnvironment() {
  auto log = log::get("daemon");
  SystemdNotifier out;
  const char* socket = std::getenv(kNotifySocket);
  if (socket != nullptr) {
    auto address = parseNotifySocket(socket);
    if (address) {
      out.address_ = *address;
    } else {
      log->warn("systemd notification: {} (not notifying)", address.error().message);
    }
  }
  auto watchdog = parseWatchdog(std::getenv(kWatchdogUsec), std::getenv(kWatchdogPid), ::getpid());
  if (!watchdog) {
    log->warn("systemd watchdog: {} (not pinging)", watchdog.error().message);
  } else if (*watchdog && out.address_) {
    out.watchdog_ = *watchdog;
  }
  // Children (e.g. a container runtime's CLI) must not notify or ping as this service.
  ::unsetenv(kNotifySocket);
  ::unsetenv(kWatchdogUsec);
  ::unsetenv(kWatchdogPid);
  return out;
}

bool SystemdNotifier::notify(std::string_view state) const {
  if (!address_) {
    return false;
  }
  auto log = log::get("daemon");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log->debug("systemd notification: creating a socket: {}", std::strerror(errno));
    return false;
  }
  // One datagram; MSG_NOSIGNAL is moot for datagrams but harmless. A full or absent receiver
  // must never stall the io loop: MSG_DONTWAIT.
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                          reinterpret_cast<const sockaddr*>(&address_->addr), address_->length);
  int err = errno;
  ::close(fd);
  if (sent < 0 || static_cast<size_t>(sent) != state.size()) {
    log->debug("systemd notification \"{}\": {}", state.substr(0, state.find('\n')),
               sent < 0 ? std::strerror(err) : "short write");
    return false;
  }
  return true;
}

void SystemdNotifier::ready(std::string_view status) const {
  notify("READY=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::reloading() const {
  // MONOTONIC_USEC lets systemd ≥ 253 (Type=notify-reload) tell this reload from an older one.
  notify("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" +
         std::to_string(monotonicMicros()));
}

void SystemdNotifier::stopping() const { notify("STOPPING=1\nSTATUS=stopping"); }

void SystemdNotifier::startWatchdog(boost::asio::io_context& io) {
  if (!watchdog_ || !address_) {
    return;
  }
  log::get("daemon")->info(
      "systemd watchdog: pinging every {} ms",
      std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog_ / 2).count());
  watchdogTimer_ = std::make_unique<boost::asio::steady_timer>(io);
  notify("WATCHDOG=1");
  scheduleWatchdog();
}

void SystemdNotifier::stopWatchdog() {
  if (watchdogTimer_) {
    watchdogTimer_->cancel();
  }
}

void SystemdNotifier::scheduleWatchdog() {
  // Half the interval, as sd_watchdog_enabled(3) advises; at least 1 ms.
  auto period = std::max(std::chrono::microseconds(1000), *watchdog_ / 2);
  watchdogTimer_->expires_after(period);
  watchdogTimer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    notify("WATCHDOG=1");
    scheduleWatchdog();
  });
}

}  // namespace lanyard::daemon
