// SPDX-License-Identifier: Apache-2.0
// SystemdNotifier: sd_notify(3) without libsystemd — READY/RELOADING/STOPPING/STATUS datagrams to
// $NOTIFY_SOCKET and WATCHDOG=1 pings from a timer on the daemon's io_context.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/result.h"

namespace lanyard::daemon {

/// Where $NOTIFY_SOCKET points: a path, or an abstract name (written "@name", sent with a
/// leading NUL).
struct NotifyAddress {
  sockaddr_un addr{};
  socklen_t length = 0;
};

/// Parses $NOTIFY_SOCKET: an absolute path or "@abstract-name" that fits sockaddr_un.
/// InvalidArgument otherwise.
Result<NotifyAddress> parseNotifySocket(std::string_view value);

/// The watchdog interval from $WATCHDOG_USEC and $WATCHDOG_PID (either may be null = unset):
/// nullopt when WATCHDOG_USEC is unset or WATCHDOG_PID names another process (sd_watchdog_enabled
/// semantics); InvalidArgument for a value that is not a positive decimal number.
Result<std::optional<std::chrono::microseconds>> parseWatchdog(const char* usec, const char* pid,
                                                               pid_t self);

/// Tells systemd (Type=notify) what the daemon is doing. Owned by the Daemon; every member runs
/// on the io_context's thread (or before it runs). Without $NOTIFY_SOCKET every call is a no-op.
/// Sending never fails the caller: errors are logged at debug.
class SystemdNotifier {
 public:
  /// A notifier that sends nothing.
  SystemdNotifier() = default;
  /// Sends to `address`; pings the watchdog every `watchdog / 2` once startWatchdog() runs.
  SystemdNotifier(NotifyAddress address, std::optional<std::chrono::microseconds> watchdog);
  ~SystemdNotifier();
  /// Movable only before startWatchdog(): the timer's handler holds `this`.
  SystemdNotifier(SystemdNotifier&&) noexcept;
  SystemdNotifier& operator=(SystemdNotifier&&) noexcept;

  /// Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then unsets them so that child
  /// processes cannot notify on the daemon's behalf. Malformed values are logged and ignored.
  /// Call before any other thread starts (unsetenv).
  static SystemdNotifier fromEnvironment();

  bool enabled() const { return address_.has_value(); }
  std::optional<std::chrono::microseconds> watchdogInterval() const { return watchdog_; }

  /// Sends one datagram of newline-separated assignments ("READY=1\nSTATUS=..."). Returns
  /// whether it was sent; false (and a debug line) on any error or when disabled.
  bool notify(std::string_view state) const;
  /// READY=1 with a STATUS= line: the socket serves (or a reload finished).
  void ready(std::string_view status) const;
  /// RELOADING=1 with MONOTONIC_USEC=, before a configuration reload.
  void reloading() const;
  /// STOPPING=1: shutting down.
  void stopping() const;

  /// Starts WATCHDOG=1 pings every half interval on `io` (kept borrowed until stopWatchdog() or
  /// destruction). A wedged io loop stops pinging, so systemd restarts the daemon. No-op when
  /// the watchdog is off.
  void startWatchdog(boost::asio::io_context& io);
  void stopWatchdog();

 private:
  void scheduleWatchdog();

  std::optional<NotifyAddress> address_;
  std::optional<std::chrono::microseconds> watchdog_;
  std::unique_ptr<boost::asio::steady_timer> watchdogTimer_;  // io_context thread only
};

}  // namespace lanyard::daemon
