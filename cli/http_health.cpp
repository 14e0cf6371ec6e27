// SPDX-License-Identifier: Apache-2.0
// httpGet: one HTTP/1.0 request over a non-blocking socket polled against a deadline.
#include "cli/http_health.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lanyard::cli {
namespace {

using Clock = std::chrono::steady_clock;

// The biggest answer read: /ready says a line; anything longer is not lanyardd.
constexpr size_t kMaxAnswerBytes = 64 * 1024;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on fd until the deadline; false on timeout.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{.fd = fd, .events = events, .revents = 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) {
      return true;
    }
    if (n < 0 && errno != EINTR) {
      return true;  // let the following call report the error
    }
  }
}

Result<int> connectTo(const std::string& host, const std::string& port, Clock::time_point deadline,
                      const std::string& doing) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fail(Code::Unavailable, doing + ": resolving " + host + ": " + ::gai_strerror(rc));
  }
  std::string lastError = "no address";
  int connected = -1;
  for (addrinfo* a = found; a != nullptr && connected < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      lastError = std::strerror(errno);
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      lastError = std::strerror(errno);
      ::close(fd);
      continue;
    }
    if (!waitFor(fd, POLLOUT, deadline)) {
      ::close(fd);
      ::freeaddrinfo(found);
      return fail(Code::DeadlineExceeded, doing + ": no connection before the deadline");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      lastError = std::strerror(err);
      ::close(fd);
      continue;
    }
    connected = fd;
  }
  ::freeaddrinfo(found);
  if (connected < 0) {
    return fail(Code::Unavailable, doing + ": connecting: " + lastError);
  }
  return connected;
}

Result<HttpAnswer> parseAnswer(const std::string& raw, const std::string& doing) {
  // "HTTP/1.1 503 Service Unavailable\r\n...\r\n\r\nbody"
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12 || raw[8] != ' ') {
    return fail(Code::Unavailable, doing + ": the answer is not HTTP");
  }
  HttpAnswer answer;
  for (size_t i = 9; i < 12; ++i) {
    if (raw[i] < '0' || raw[i] > '9') {
      return fail(Code::Unavailable, doing + ": the answer has no status code");
    }
    answer.status = answer.status * 10 + (raw[i] - '0');
  }
  if (auto end = raw.find("\r\n\r\n"); end != std::string::npos) {
    answer.body = raw.substr(end + 4);
  }
  return answer;
}

}  // namespace

Result<HttpAnswer> httpGet(const std::string& address, const std::string& path,
                           std::chrono::milliseconds timeout) {
  const std::string doing = "asking http://" + address + path;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return fail(Code::InvalidArgument, doing + ": \"" + address + "\" is not host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto deadline = Clock::now() + timeout;
  LANYARD_TRY(int raw, connectTo(host, address.substr(colon + 1), deadline, doing));
  Fd fd(raw);
  const std::string request =
      "GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\nUser-Agent: lanyard\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    if (!waitFor(fd.get(), POLLOUT, deadline)) {
      return fail(Code::DeadlineExceeded, doing + ": no answer before the deadline");
    }
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return fail(Code::Unavailable, doing + ": sending: " + std::strerror(errno));
    }
    sent += n > 0 ? static_cast<size_t>(n) : 0;
  }
  // HTTP/1.0: the server closes the connection after its answer.
  std::string answer;
  char buf[4096];
  for (;;) {
    if (!waitFor(fd.get(), POLLIN, deadline)) {
      return fail(Code::DeadlineExceeded, doing + ": no answer before the deadline");
    }
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      return fail(Code::Unavailable, doing + ": reading: " + std::strerror(errno));
    }
    answer.append(buf, static_cast<size_t>(n));
    if (answer.size() > kMaxAnswerBytes) {
      return fail(Code::Unavailable, doing + ": the answer is over 64 KiB");
    }
  }
  return parseAnswer(answer, doing);
}

}  // namespace lanyard::cli
