// SPDX-License-Identifier: Apache-2.0
// Tests for daemon/socket_activation.cpp: $LISTEN_PID/$LISTEN_FDS/$LISTEN_FDNAMES parsing and
// the check that an inherited descriptor is a listening Unix stream socket.
#include "daemon/socket_activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"
#include "support/temp_dir.h"

namespace lanyard::daemon {
namespace {

// Closes a descriptor at the end of a test.
struct Fd {
  explicit Fd(int f) : fd(f) { REQUIRE(fd >= 0); }
  ~Fd() { ::close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

void bindTo(int fd, const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
}

void requireInvalid(const char* pid, const char* fds, const char* names,
                    const std::string& message) {
  auto r = parseListenFds(pid, fds, names, 42);
  INFO((pid ? pid : "(unset)") << " " << (fds ? fds : "(unset)"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::InvalidArgument);
  CHECK(r.error().message == message);
}

TEST_CASE("LISTEN_FDS counts descriptors from 3 for the process LISTEN_PID names",
          "[daemon][systemd]") {
  auto one = parseListenFds("42", "1", nullptr, 42);
  REQUIRE(one);
  REQUIRE(one->has_value());
  CHECK((*one)->count == 1);
  CHECK((*one)->names.empty());

  auto named = parseListenFds("42", "2", "lanyardd.socket:health", 42);
  REQUIRE(named);
  REQUIRE(named->has_value());
  CHECK((*named)->count == 2);
  CHECK((*named)->names == std::vector<std::string>{"lanyardd.socket", "health"});
}

TEST_CASE("socket activation is absent unless LISTEN_PID is this process and LISTEN_FDS > 0",
          "[daemon][systemd]") {
  CHECK_FALSE(parseListenFds(nullptr, nullptr, nullptr, 42).value().has_value());
  CHECK_FALSE(parseListenFds(nullptr, "1", nullptr, 42).value().has_value());
  CHECK_FALSE(parseListenFds("42", nullptr, nullptr, 42).value().has_value());
  CHECK_FALSE(parseListenFds("43", "1", nullptr, 42).value().has_value());
  CHECK_FALSE(parseListenFds("43", "bogus", nullptr, 42).value().has_value());  // not ours
  CHECK_FALSE(parseListenFds("42", "0", nullptr, 42).value().has_value());
}

TEST_CASE("malformed socket-activation variables are rejected with a reason", "[daemon][systemd]") {
  requireInvalid("", "1", nullptr, "LISTEN_PID \"\" is not a process id");
  requireInvalid("0", "1", nullptr, "LISTEN_PID \"0\" is not a process id");
  requireInvalid("pid", "1", nullptr, "LISTEN_PID \"pid\" is not a process id");
  requireInvalid("-42", "1", nullptr, "LISTEN_PID \"-42\" is not a process id");
  requireInvalid("42", "", nullptr, "LISTEN_FDS \"\" is not a descriptor count");
  requireInvalid("42", "-1", nullptr, "LISTEN_FDS \"-1\" is not a descriptor count");
  requireInvalid("42", "1x", nullptr, "LISTEN_FDS \"1x\" is not a descriptor count");
  requireInvalid("42", "99999999999", nullptr,
                 "LISTEN_FDS \"99999999999\" is not a descriptor count");
  requireInvalid("42", "1", "a:b", "LISTEN_FDNAMES \"a:b\" has 2 names for 1 descriptors");
  requireInvalid("42", "2", "a", "LISTEN_FDNAMES \"a\" has 1 names for 2 descriptors");
}

TEST_CASE("an inherited listening Unix stream socket is accepted, made CLOEXEC and non-blocking",
          "[daemon][systemd]") {
  testing::TempDir dir;
  Fd s(::socket(AF_UNIX, SOCK_STREAM, 0));
  bindTo(s.fd, dir.file("agent.sock"));
  REQUIRE(::listen(s.fd, 8) == 0);
  REQUIRE(checkListeningUnixSocket(s.fd));
  CHECK((::fcntl(s.fd, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((::fcntl(s.fd, F_GETFL) & O_NONBLOCK) != 0);
}

TEST_CASE("an inherited descriptor that is not a listening Unix stream socket is refused",
          "[daemon][systemd]") {
  testing::TempDir dir;
  auto refused = [](int fd, const std::string& what) {
    auto r = checkListeningUnixSocket(fd);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::FailedPrecondition);
    CHECK(r.error().message == "inherited descriptor " + std::to_string(fd) + what);
  };
  SECTION("a regular file") {
    Fd f(::open(dir.file("file").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    refused(f.fd, " is a regular file, not a socket");
  }
  SECTION("a pipe") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    Fd r(p[0]);
    Fd w(p[1]);
    refused(r.fd, " is a pipe, not a socket");
  }
  SECTION("a TCP socket") {
    Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    refused(s.fd, " is not a Unix socket (family " + std::to_string(AF_INET) + ")");
  }
  SECTION("a Unix datagram socket") {
    Fd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    refused(s.fd, " is not a stream socket (ListenStream=)");
  }
  SECTION("a bound Unix stream socket that does not listen") {
    Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    bindTo(s.fd, dir.file("quiet.sock"));
    refused(s.fd, " is a Unix stream socket that is not listening");
  }
  SECTION("a closed descriptor") {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    ::close(fd);
    refused(fd, ": Bad file descriptor");
  }
}

}  // namespace
}  // namespace lanyard::daemon
