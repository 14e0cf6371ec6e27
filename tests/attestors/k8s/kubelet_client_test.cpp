// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/k8s/kubelet_client.cpp against a loopback stand-in for the kubelet (a
// thread with a listening socket, plain or TLS with a certificate made by the openssl CLI).
#include "attestors/k8s/kubelet_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "support/result_matchers.h"
#include "support/run.h"
#include "support/temp_dir.h"

namespace lanyard::attestors::k8s {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A loopback stand-in for the kubelet: answers each connection with what `respond` returns for
// the request head, then closes. TLS when given a certificate and key.
class StandInKubelet {
 public:
  using Responder = std::function<std::string(const std::string& requestHead)>;

  explicit StandInKubelet(Responder respond, const std::string& certPem = "",
                          const std::string& keyPem = "")
      : respond_(std::move(respond)) {
    // A client that gives up closes its end while this writes: EPIPE, not a signal.
    std::signal(SIGPIPE, SIG_IGN);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (!certPem.empty()) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      REQUIRE(SSL_CTX_use_certificate_chain_file(ctx_, certPem.c_str()) == 1);
      REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_, keyPem.c_str(), SSL_FILETYPE_PEM) == 1);
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~StandInKubelet() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    if (ctx_ != nullptr) {
      SSL_CTX_free(ctx_);
    }
  }

  uint16_t port() const { return port_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        return;
      }
      SSL* ssl = nullptr;
      if (ctx_ != nullptr) {
        ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) != 1) {
          ERR_clear_error();
          SSL_free(ssl);
          ::close(c);
          continue;
        }
      }
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        int n =
            ssl ? SSL_read(ssl, buf, sizeof(buf)) : static_cast<int>(::read(c, buf, sizeof(buf)));
        if (n <= 0) {
          break;
        }
        head.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(head);
      }
      std::string answer = respond_(head);
      size_t off = 0;
      while (off < answer.size()) {
        int n = ssl ? SSL_write(ssl, answer.data() + off, static_cast<int>(answer.size() - off))
                    : static_cast<int>(::write(c, answer.data() + off, answer.size() - off));
        if (n <= 0) {
          break;
        }
        off += static_cast<size_t>(n);
      }
      if (ssl != nullptr) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      ::close(c);
    }
  }

  Responder respond_;
  int fd_ = -1;
  uint16_t port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;  // mu_
  std::thread thread_;
};

std::string ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string chunked(const std::string& body) {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < body.size(); off += 1000) {
    std::string part = body.substr(off, 1000);
    char len[16];
    std::snprintf(len, sizeof(len), "%zx", part.size());
    out += std::string(len) + "\r\n" + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

std::unique_ptr<HttpKubeletClient> plainClient(uint16_t port, uint64_t maxBytes = 1 << 20) {
  KubeletEndpoint ep;
  ep.port = port;
  ep.tls = false;
  ep.maxResponseBytes = maxBytes;
  return HttpKubeletClient::create(ep);
}

TEST_CASE("the read-only port: GET /pods over plain HTTP, with and without a length",
          "[k8s][kubelet]") {
  const std::string body = R"({"items":[)" + std::string(5000, ' ') + "]}";
  bool useChunks = GENERATE(false, true);
  StandInKubelet kubelet([&](const std::string&) { return useChunks ? chunked(body) : ok(body); });
  auto client = plainClient(kubelet.port());
  CHECK(client->url() == "http://127.0.0.1:" + std::to_string(kubelet.port()) + "/pods");
  for (int i = 0; i < 2; ++i) {  // the second fetch reserves from the first one's size
    auto got = client->fetchPods(Clock::now() + 5s);
    REQUIRE(got);
    CHECK(*got == body);
  }
  auto reqs = kubelet.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].rfind("GET /pods HTTP/1.1\r\n", 0) == 0);
  CHECK(reqs[0].find("Authorization") == std::string::npos);  // never sent in the clear
}

TEST_CASE("a kubelet answering other than 200 gives Unavailable with the status",
          "[k8s][kubelet]") {
  StandInKubelet kubelet([](const std::string&) {
    return std::string("HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nUnauthorized");
  });
  auto got = plainClient(kubelet.port())->fetchPods(Clock::now() + 5s);
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::Unavailable);
  CHECK_THAT(got.error().message, Catch::Contains("/pods") && Catch::Contains("401"));
}

TEST_CASE("an answer over max_pod_list_size fails with ResourceExhausted, announced or not",
          "[k8s][kubelet]") {
  const std::string body(10000, 'x');
  bool useChunks = GENERATE(false, true);
  StandInKubelet kubelet([&](const std::string&) { return useChunks ? chunked(body) : ok(body); });
  auto got = plainClient(kubelet.port(), 4096)->fetchPods(Clock::now() + 5s);
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::ResourceExhausted);
  CHECK_THAT(got.error().message, Catch::Contains("larger than 4096 bytes"));
}

TEST_CASE("a kubelet that never answers is given up at the deadline", "[k8s][kubelet]") {
  StandInKubelet kubelet([](const std::string&) {
    std::this_thread::sleep_for(1500ms);
    return std::string();
  });
  auto start = Clock::now();
  auto got = plainClient(kubelet.port())->fetchPods(Clock::now() + 300ms);
  auto took = Clock::now() - start;
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::Unavailable);
  CHECK_THAT(got.error().message, Catch::Contains("deadline exceeded"));
  CHECK(took < 1000ms);
}

TEST_CASE("nothing listening, a truncated answer, or a past deadline give Unavailable",
          "[k8s][kubelet]") {
  SECTION("connection refused") {
    uint16_t port = 0;
    {
      StandInKubelet gone([](const std::string&) { return std::string(); });
      port = gone.port();
    }
    auto got = plainClient(port)->fetchPods(Clock::now() + 2s);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::Contains("connecting"));
  }
  SECTION("truncated") {
    StandInKubelet kubelet([](const std::string&) {
      return std::string("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"items\"");
    });
    auto got = plainClient(kubelet.port())->fetchPods(Clock::now() + 2s);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
  }
  SECTION("deadline already past") {
    StandInKubelet kubelet([](const std::string&) { return ok("{}"); });
    auto got = plainClient(kubelet.port())->fetchPods(Clock::now() - 1ms);
    REQUIRE_FALSE(got);
    CHECK(kubelet.requests().empty());
  }
}

// A CA and a kubelet serving certificate for "node-1" and 127.0.0.1, by the openssl CLI.
struct Pki {
  testing::TempDir dir;
  std::string ca = dir.file("ca.pem");
  std::string cert = dir.file("kubelet.pem");
  std::string key = dir.file("kubelet.key");
  std::string token = dir.file("token");

  Pki() {
    auto sh = [](const std::string& cmd) {
      auto r = testing::run({"/bin/sh", "-c", cmd});
      if (r.exitCode != 0) {
        FAIL("making test certificates failed: " << r.output);
      }
    };
    const std::string d = testing::shellQuote(dir.path());
    sh("cd " + d +
       " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
       " -subj /CN=test-kubelet-ca -keyout ca.key -out ca.pem"
       " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=node-1"
       " -keyout kubelet.key -out kubelet.csr"
       " && printf 'subjectAltName=DNS:node-1,IP:127.0.0.1\\n' > ext.cnf"
       " && openssl x509 -req -in kubelet.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1"
       " -extfile ext.cnf -out kubelet.pem");
  }

  std::unique_ptr<HttpKubeletClient> client(uint16_t port, const std::string& serverName,
                                            bool skipVerification = false,
                                            const std::string& caPath = "") {
    KubeletEndpoint ep;
    ep.port = port;
    ep.tls = true;
    ep.caPath = caPath.empty() ? ca : caPath;
    ep.serverName = serverName;
    ep.skipVerification = skipVerification;
    ep.tokenPath = token;
    return HttpKubeletClient::create(ep);
  }
};

void writeFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  REQUIRE(f != nullptr);
  std::fputs(text.c_str(), f);
  std::fclose(f);
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);  // a new inode, as a projected token
}

TEST_CASE(
    "the secure port: HTTPS verified against kubelet_ca_path, with the Bearer token "
    "re-read when its file changes",
    "[k8s][kubelet][tls]") {
  Pki pki;
  writeFile(pki.token, "token-one\n");
  StandInKubelet kubelet([](const std::string&) { return ok(R"({"items":[]})"); }, pki.cert,
                         pki.key);
  auto client = pki.client(kubelet.port(), GENERATE(std::string("node-1"), std::string("")));
  CHECK(client->url().rfind("https://", 0) == 0);
  REQUIRE(client->fetchPods(Clock::now() + 5s));
  writeFile(pki.token, "token-two");
  REQUIRE(client->fetchPods(Clock::now() + 5s));
  auto reqs = kubelet.requests();
  REQUIRE(reqs.size() == 2);
  CHECK_THAT(reqs[0], Catch::Contains("Authorization: Bearer token-one\r\n"));
  CHECK_THAT(reqs[1], Catch::Contains("Authorization: Bearer token-two\r\n"));
}

TEST_CASE(
    "the secure port refuses a certificate for another name or from another CA unless "
    "skip_kubelet_verification",
    "[k8s][kubelet][tls]") {
  Pki pki;
  writeFile(pki.token, "t");
  StandInKubelet kubelet([](const std::string&) { return ok("{}"); }, pki.cert, pki.key);
  SECTION("wrong name") {
    auto got = pki.client(kubelet.port(), "node-2")->fetchPods(Clock::now() + 5s);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::Contains("TLS handshake"));
  }
  SECTION("another CA") {
    Pki other;
    auto got = pki.client(kubelet.port(), "node-1", false, other.ca)->fetchPods(Clock::now() + 5s);
    REQUIRE_FALSE(got);
    CHECK_THAT(got.error().message, Catch::Contains("TLS handshake"));
  }
  SECTION("verification off") {
    Pki other;
    CHECK(pki.client(kubelet.port(), "node-2", true, other.ca)->fetchPods(Clock::now() + 5s));
  }
  CHECK(kubelet.requests().size() <= 1);  // no token went to an unverified peer
}

TEST_CASE("a token file or CA that is missing fails the fetch, naming it, until it appears",
          "[k8s][kubelet][tls]") {
  Pki pki;
  StandInKubelet kubelet([](const std::string&) { return ok("{}"); }, pki.cert, pki.key);
  SECTION("token") {
    auto client = pki.client(kubelet.port(), "node-1");
    CHECK_FALSE(client->checkFiles());
    auto got = client->fetchPods(Clock::now() + 5s);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::Contains("reading the kubelet token"));
    writeFile(pki.token, "late-token");
    CHECK(client->checkFiles());
    CHECK(client->fetchPods(Clock::now() + 5s));
  }
  SECTION("CA") {
    writeFile(pki.token, "t");
    const std::string late = pki.dir.file("late-ca.pem");
    auto client = pki.client(kubelet.port(), "node-1", false, late);
    auto got = client->fetchPods(Clock::now() + 5s);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message,
               Catch::Contains("kubelet_ca_path") && Catch::Contains("late-ca.pem"));
    REQUIRE(std::rename(pki.ca.c_str(), late.c_str()) == 0);
    CHECK(client->fetchPods(Clock::now() + 5s));
  }
}

}  // namespace
}  // namespace lanyard::attestors::k8s
