// SPDX-License-Identifier: Apache-2.0
// Socket activation (sd_listen_fds(3) without libsystemd): the Workload API socket inherited from
// systemd (lanyardd.socket) or systemd-socket-activate, checked before it is served.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace lanyard::daemon {

/// The first inherited descriptor (SD_LISTEN_FDS_START).
constexpr int kListenFdsStart = 3;

/// What $LISTEN_FDS and $LISTEN_FDNAMES passed: descriptors kListenFdsStart .. +count-1.
struct ListenFds {
  int count = 0;
  /// One name per descriptor (empty when LISTEN_FDNAMES is unset).
  std::vector<std::string> names;
};

/// Parses $LISTEN_PID, $LISTEN_FDS and $LISTEN_FDNAMES (each may be null = unset). nullopt: no
/// sockets for this process — LISTEN_PID or LISTEN_FDS unset, LISTEN_PID naming another process,
/// or LISTEN_FDS=0. InvalidArgument for a malformed number or a name count that differs from
/// LISTEN_FDS.
Result<std::optional<ListenFds>> parseListenFds(const char* pid, const char* fds, const char* names,
                                                pid_t self);

/// Checks that `fd` is an AF_UNIX SOCK_STREAM socket in the listening state, then sets
/// FD_CLOEXEC and O_NONBLOCK (the acceptor drains it with accept4 until EAGAIN).
/// FailedPrecondition naming what it is instead.
Result<void> checkListeningUnixSocket(int fd);

/// Reads the socket-activation variables, unsets them (children must not inherit them), and
/// returns the one inherited listening socket, checked; nullopt without socket activation.
/// Fails closed: malformed variables, more than one descriptor, or a descriptor that is not a
/// listening Unix stream socket are errors. Call before any other thread starts (unsetenv).
Result<std::optional<int>> takeActivatedSocket();

}  // namespace lanyard::daemon
