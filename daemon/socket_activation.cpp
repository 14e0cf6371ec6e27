// SPDX-License-Identifier: Apache-2.0
// Socket activation: parsing LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES and checking the inherited fd.
#include "daemon/socket_activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

#include "common/log.h"

namespace lanyard::daemon {
namespace {

// A decimal number with nothing around it, at most `max`.
std::optional<long> decimal(std::string_view text, long max) {
  long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0 ||
      value > max) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string> splitNames(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t colon = text.find(':', start);
    out.emplace_back(text.substr(start, colon - start));
    if (colon == std::string_view::npos) {
      return out;
    }
    start = colon + 1;
  }
}

std::string fileKind(mode_t mode) {
  if (S_ISREG(mode)) {
    return "a regular file";
  }
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a pipe";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  return "not a socket";
}

int intOption(int fd, int option, bool& ok) {
  int value = 0;
  socklen_t len = sizeof(value);
  ok = ::getsockopt(fd, SOL_SOCKET, option, &value, &len) == 0;
  return value;
}

}  // namespace

Result<std::optional<ListenFds>> parseListenFds(const char* pid, const char* fds, const char* names,
                                                pid_t self) {
  if (pid == nullptr || fds == nullptr) {
    return std::optional<ListenFds>();
  }
  auto owner = decimal(pid, std::numeric_limits<pid_t>::max());
  if (!owner || *owner == 0) {
    return fail(Code::InvalidArgument,
                "LISTEN_PID \"" + std::string(pid) + "\" is not a process id");
  }
  if (*owner != self) {
    return std::optional<ListenFds>();  // meant for another process (e.g. our parent)
  }
  auto count = decimal(fds, std::numeric_limits<int>::max() - kListenFdsStart);
  if (!count) {
    return fail(Code::InvalidArgument,
                "LISTEN_FDS \"" + std::string(fds) + "\" is not a descriptor count");
  }
  if (*count == 0) {
    return std::optional<ListenFds>();
  }
  ListenFds out{.count = static_cast<int>(*count), .names = {}};
  if (names != nullptr) {
    out.names = splitNames(names);
    if (out.names.size() != static_cast<size_t>(out.count)) {
      return fail(Code::InvalidArgument, "LISTEN_FDNAMES \"" + std::string(names) + "\" has " +
                                             std::to_string(out.names.size()) + " names for " +
                                             std::to_string(out.count) + " descriptors");
    }
  }
  return std::optional<ListenFds>(std::move(out));
}

Result<void> checkListeningUnixSocket(int fd) {
  const std::string what = "inherited descriptor " + std::to_string(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(Code::FailedPrecondition, what + ": " + std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return fail(Code::FailedPrecondition, what + " is " + fileKind(st.st_mode) + ", not a socket");
  }
  bool ok = false;
  const int domain = intOption(fd, SO_DOMAIN, ok);
  if (!ok || domain != AF_UNIX) {
    return fail(Code::FailedPrecondition,
                what + " is not a Unix socket (family " + std::to_string(domain) + ")");
  }
  const int type = intOption(fd, SO_TYPE, ok);
  if (!ok || type != SOCK_STREAM) {
    return fail(Code::FailedPrecondition, what + " is not a stream socket (ListenStream=)");
  }
  const int listening = intOption(fd, SO_ACCEPTCONN, ok);
  if (!ok || listening == 0) {
    return fail(Code::FailedPrecondition, what + " is a Unix stream socket that is not listening");
  }
  const int fdFlags = ::fcntl(fd, F_GETFD);
  const int flFlags = ::fcntl(fd, F_GETFL);
  if (fdFlags < 0 || flFlags < 0 || ::fcntl(fd, F_SETFD, fdFlags | FD_CLOEXEC) != 0 ||
      ::fcntl(fd, F_SETFL, flFlags | O_NONBLOCK) != 0) {
    return fail(Code::FailedPrecondition, what + ": setting its flags: " + std::strerror(errno));
  }
  return {};
}

Result<std::optional<int>> takeActivatedSocket() {
  auto parsed = parseListenFds(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"),
                               std::getenv("LISTEN_FDNAMES"), ::getpid());
  const bool present = std::getenv("LISTEN_FDS") != nullptr;
  // Whatever they said, they were for this process only (sd_listen_fds(unset_environment=1)).
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!parsed) {
    return fail(parsed.error().wrap("socket activation"));
  }
  if (!*parsed) {
    if (present) {
      log::get("daemon")->info(
          "socket activation: LISTEN_PID does not name this process; LISTEN_FDS ignored");
    }
    return std::optional<int>();
  }
  const ListenFds& fds = **parsed;
  if (fds.count != 1) {
    return fail(Code::FailedPrecondition,
                "socket activation: " + std::to_string(fds.count) +
                    " sockets passed; lanyardd serves exactly one (one ListenStream= in "
                    "lanyardd.socket)");
  }
  if (auto checked = checkListeningUnixSocket(kListenFdsStart); !checked) {
    return fail(checked.error().wrap("socket activation"));
  }
  log::get("daemon")->info("socket activation: serving inherited descriptor {}{}", kListenFdsStart,
                           fds.names.empty() ? "" : " (" + fds.names.front() + ")");
  return std::optional<int>(kListenFdsStart);
}

}  // namespace lanyard::daemon
