// SPDX-License-Identifier: Apache-2.0
// Tests for daemon/health_server.cpp: the routes, keep-alive, and clients that send too much,
// too slowly or too many connections, over real loopback sockets.
#include "daemon/health_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

namespace lanyard::daemon {
namespace {

using namespace std::chrono_literals;

// A HealthServer on 127.0.0.1:0 with its io_context running on a thread of its own.
class Running {
 public:
  explicit Running(HealthHandlers handlers, HealthServerOptions options = {}) {
    auto created = HealthServer::create(io_, "127.0.0.1:0", std::move(handlers), options);
    REQUIRE(created);
    server_ = std::move(*created);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Running() {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      server_.reset();
      done.set_value();
    });
    done.get_future().wait();
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return server_->endpoint().port(); }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
      io_.get_executor()};
  std::unique_ptr<HealthServer> server_;
  std::thread thread_;
};

struct Response {
  int status = 0;  // 0: the connection closed (or timed out) before a whole response
  std::string headers;
  std::string body;
};

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{.tv_sec = 3, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~Client() { ::close(fd_); }

  void send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        return;  // the server closed: what it answered is still readable
      }
      off += static_cast<size_t>(n);
    }
  }

  // One response (headers, then Content-Length bytes of body).
  Response read() {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        return r;
      }
    }
    r.headers = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    std::string lower = r.headers;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    size_t length = 0;
    if (auto at = lower.find("content-length: "); at != std::string::npos) {
      length = std::stoul(lower.substr(at + 16));
    }
    while (buf_.size() < length) {
      if (!fill()) {
        return r;
      }
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    r.status = std::stoi(r.headers.substr(9, 3));  // "HTTP/1.1 200 OK"
    return r;
  }

  Response get(const std::string& target, const std::string& method = "GET") {
    send(method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    return read();
  }

  // True when the server closed the connection (read returns 0) within the receive timeout.
  bool closedByServer() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool fill() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

HealthHandlers fixed(std::optional<std::string> notReady, std::string metrics) {
  return {.notReady = [notReady] { return notReady; }, .metrics = [metrics] { return metrics; }};
}

TEST_CASE("/live, /ready and /metrics answer GET with their status and content type",
          "[daemon][health]") {
  Running ready(fixed(std::nullopt, "lanyard_x 1\n"));
  Client c(ready.port());
  Response live = c.get("/live");
  CHECK(live.status == 200);
  CHECK(live.body == "ok\n");
  Response r = c.get("/ready");  // same connection: keep-alive
  CHECK(r.status == 200);
  CHECK(r.body == "ready\n");
  Response m = c.get("/metrics?name=x");
  CHECK(m.status == 200);
  CHECK(m.body == "lanyard_x 1\n");
  CHECK(m.headers.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);

  Running notReady(fixed("the CA expired 3 s ago", ""));
  Client n(notReady.port());
  Response nr = n.get("/ready");
  CHECK(nr.status == 503);
  CHECK(nr.body == "not ready: the CA expired 3 s ago\n");
  CHECK(n.get("/live").status == 200);
}

TEST_CASE("other paths are 404 and other methods 405 with Allow: GET", "[daemon][health]") {
  Running s(fixed(std::nullopt, ""));
  Client c(s.port());
  CHECK(c.get("/").status == 404);
  CHECK(c.get("/metricsx").status == 404);
  CHECK(c.get("/../etc/passwd").status == 404);
  Response post = c.get("/metrics", "POST");
  CHECK(post.status == 405);
  CHECK(post.headers.find("Allow: GET") != std::string::npos);
  CHECK(c.get("/ready", "DELETE").status == 405);
  CHECK(c.get("/live").status == 200);  // the connection still serves
}

TEST_CASE("routeHealthRequest maps paths and methods without a socket", "[daemon][health]") {
  auto h = fixed(std::nullopt, "m");
  CHECK(routeHealthRequest("GET", "/live", h).status == 200);
  CHECK(routeHealthRequest("GET", "/metrics", h).body == "m");
  CHECK(routeHealthRequest("HEAD", "/live", h).status == 405);
  CHECK(routeHealthRequest("GET", "/nope", h).status == 404);
  CHECK(routeHealthRequest("GET", "/ready", fixed("starting", "")).status == 503);
}

TEST_CASE("an oversized request gets 431 and the connection is closed", "[daemon][health]") {
  Running s(fixed(std::nullopt, ""));
  Client c(s.port());
  c.send("GET /live HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
  Response r = c.read();
  CHECK(r.status == 431);
  CHECK(c.closedByServer());
  Client after(s.port());
  CHECK(after.get("/live").status == 200);
}

TEST_CASE("a request with a body over the limit gets 413", "[daemon][health]") {
  Running s(fixed(std::nullopt, ""));
  Client c(s.port());
  c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  CHECK(c.read().status == 413);
}

TEST_CASE("garbage instead of HTTP gets 400", "[daemon][health]") {
  Running s(fixed(std::nullopt, ""));
  Client c(s.port());
  c.send("\x16\x03\x01 not http at all\r\n\r\n");
  CHECK(c.read().status == 400);
  CHECK(c.closedByServer());
}

TEST_CASE("a slow client is disconnected after the read timeout while others are served",
          "[daemon][health]") {
  HealthServerOptions options;
  options.readTimeout = 300ms;
  Running s(fixed(std::nullopt, ""), options);
  Client slow(s.port());
  slow.send("GET /live HTTP/1.1\r\n");  // and never the rest
  Client idle(s.port());                // sends nothing at all
  const auto started = std::chrono::steady_clock::now();
  Client other(s.port());
  CHECK(other.get("/live").status == 200);  // the io thread is not held by the slow ones
  CHECK(slow.closedByServer());
  CHECK(idle.closedByServer());
  CHECK(std::chrono::steady_clock::now() - started < 2500ms);
}

TEST_CASE("connections beyond the limit are closed at once", "[daemon][health]") {
  HealthServerOptions options;
  options.maxConnections = 2;
  Running s(fixed(std::nullopt, ""), options);
  Client a(s.port());
  Client b(s.port());
  CHECK(a.get("/live").status == 200);  // both are accepted before the third connects
  CHECK(b.get("/live").status == 200);
  Client c(s.port());
  CHECK(c.closedByServer());
}

TEST_CASE("a handler that throws gives 500 and the server goes on", "[daemon][health]") {
  HealthHandlers h{.notReady = [] { return std::nullopt; },
                   .metrics = []() -> std::string { throw std::runtime_error("boom"); }};
  Running s(h);
  Client c(s.port());
  CHECK(c.get("/metrics").status == 500);
  Client d(s.port());
  CHECK(d.get("/live").status == 200);
}

TEST_CASE("binding a port in use fails naming the address", "[daemon][health]") {
  boost::asio::io_context io;
  auto first = HealthServer::create(io, "127.0.0.1:0", fixed(std::nullopt, ""));
  REQUIRE(first);
  const std::string taken = (*first)->address();
  auto second = HealthServer::create(io, taken, fixed(std::nullopt, ""));
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Code::FailedPrecondition);
  CHECK(second.error().message.find("starting the health listener on " + taken) == 0);
  CHECK(second.error().message.find("in use") != std::string::npos);
}

}  // namespace
}  // namespace lanyard::daemon
