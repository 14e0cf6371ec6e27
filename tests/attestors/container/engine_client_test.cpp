// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/container/engine_client.cpp against a scripted HTTP server on a Unix
// socket in a temp dir: status codes, chunked answers, the size bound and the deadline.
#include "attestors/container/engine_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"
#include "support/temp_dir.h"

namespace lanyard::attestors::container {
namespace {

using namespace std::chrono_literals;

// Accepts one connection, reads the request head, remembers its first line and writes
// `answer` (or nothing, holding the connection open, when `answer` is empty).
class OneShotServer {
 public:
  OneShotServer(const std::string& path, std::string answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotServer() {
    done_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string requestLine() const {
    std::lock_guard lock(mu_);
    return requestLine_;
  }

 private:
  void serve() {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      return;
    }
    std::string head;
    char buf[1024];
    while (head.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      head.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard lock(mu_);
      requestLine_ = head.substr(0, head.find("\r\n"));
    }
    if (answer_.empty()) {
      while (!done_) {
        std::this_thread::sleep_for(10ms);
      }
    } else {
      (void)!::write(c, answer_.data(), answer_.size());
    }
    ::close(c);
  }

  int fd_ = -1;
  std::string answer_;
  std::atomic<bool> done_{false};
  mutable std::mutex mu_;
  std::string requestLine_;
  std::thread thread_;
};

const std::string kId = "3a8f1c0e2b4d6f8a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a";

std::string http(const std::string& status, const std::string& body) {
  return "HTTP/1.1 " + status +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

Deadline in(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }

TEST_CASE("the engine client asks for the container and returns the body",
          "[attestors][docker][engine]") {
  testing::TempDir dir;
  const std::string sock = dir.file("engine.sock");
  auto client = UnixEngineClient::create("unix://" + sock, 1 << 20);
  REQUIRE(client);
  CHECK((*client)->endpoint() == "unix://" + sock);

  SECTION("200") {
    OneShotServer server(sock, http("200 OK", "{\"Id\":\"x\"}"));
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE(got);
    CHECK(*got == "{\"Id\":\"x\"}");
    CHECK(server.requestLine() == "GET /v1.41/containers/" + kId + "/json HTTP/1.1");
  }
  SECTION("chunked 200") {
    OneShotServer server(sock,
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"Id\r\n"
                         "5\r\n\":1}\n\r\n0\r\n\r\n");
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE(got);
    CHECK(*got == "{\"Id\":1}\n");
  }
  SECTION("404 is NotFound") {
    OneShotServer server(sock, http("404 Not Found", "{\"message\":\"No such container\"}"));
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::NotFound);
  }
  SECTION("500 is Unavailable") {
    OneShotServer server(sock, http("500 Internal Server Error", "{}"));
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::Contains("the engine answered 500"));
  }
  SECTION("garbage is Unavailable") {
    OneShotServer server(sock, "SSH-2.0-OpenSSH\r\n\r\n");
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
  }
  SECTION("a silent engine is cut off at the deadline") {
    OneShotServer server(sock, "");
    auto start = std::chrono::steady_clock::now();
    auto got = (*client)->inspectContainer(kId, in(200ms));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::Contains("deadline exceeded"));
    CHECK(std::chrono::steady_clock::now() - start < 1500ms);
  }
  SECTION("no socket") {
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message,
               Catch::StartsWith("GET /v1.41/containers/" + kId + "/json on unix://" + sock +
                                 ": connecting: "));
  }
}

TEST_CASE("an answer larger than the bound is refused", "[attestors][docker][engine]") {
  testing::TempDir dir;
  const std::string sock = dir.file("engine.sock");
  auto client = UnixEngineClient::create(sock, 1024);
  REQUIRE(client);
  SECTION("with a length") {
    OneShotServer server(sock, http("200 OK", std::string(5000, 'x')));
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::ResourceExhausted);
  }
  SECTION("chunked") {
    OneShotServer server(sock, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                                   std::string(0x800, 'x') + "\r\n0\r\n\r\n");
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::ResourceExhausted);
  }
  SECTION("exactly the bound is fine") {
    OneShotServer server(sock, http("200 OK", std::string(1024, 'x')));
    auto got = (*client)->inspectContainer(kId, in(2000ms));
    REQUIRE(got);
    CHECK(got->size() == 1024);
  }
}

TEST_CASE("engine socket addresses are checked", "[attestors][docker][engine]") {
  CHECK(*engineSocketPath("unix:///var/run/docker.sock") == "/var/run/docker.sock");
  CHECK(*engineSocketPath("/run/podman/podman.sock") == "/run/podman/podman.sock");
  CHECK(engineSocketPath("tcp://127.0.0.1:2375").error().message ==
        "want unix:///path/to/socket, got \"tcp://127.0.0.1:2375\"");
  CHECK(engineSocketPath("unix://relative.sock").error().message ==
        "want an absolute socket path, got \"unix://relative.sock\"");
  CHECK_FALSE(engineSocketPath("/" + std::string(200, 'a')));
}

}  // namespace
}  // namespace lanyard::attestors::container
