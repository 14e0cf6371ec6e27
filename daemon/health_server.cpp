// SPDX-License-Identifier: Apache-2.0
// HealthServer: Beast HTTP/1.1 connections with bounded requests, timeouts and keep-alive.
#include "daemon/health_server.h"

#include <fcntl.h>

#include <array>
#include <exception>
#include <map>
#include <string_view>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/log.h"
#include "common/metrics.h"

namespace lanyard::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A scrape request is a request line and a few headers; nothing here takes a body.
constexpr size_t kMaxHeaderBytes = 8 * 1024;
constexpr size_t kMaxBodyBytes = 1024;
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr std::chrono::seconds kDrainTime{1};
constexpr size_t kMaxDrainBytes = 1 << 20;

}  // namespace

class HealthConnection;

struct HealthServer::State {
  explicit State(asio::io_context& ctx) : io(ctx), acceptor(ctx) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  HealthHandlers handlers;
  HealthServerOptions options;
  bool stopped = false;
  // Open connections, closed by shutdown(); each removes itself when destroyed.
  std::map<const HealthConnection*, std::weak_ptr<HealthConnection>> connections;
};

namespace {

void setCloexec(int fd) { ::fcntl(fd, F_SETFD, FD_CLOEXEC); }

const beast::error_category& httpErrors() {
  return beast::error_code(http::error::end_of_stream).category();
}

}  // namespace

// One client connection: read a request (bounded, with a deadline), answer, and go round
// again while the client keeps the connection alive. Owned by the handlers in flight.
class HealthConnection final : public std::enable_shared_from_this<HealthConnection> {
 public:
  HealthConnection(tcp::socket socket, std::shared_ptr<HealthServer::State> state)
      : stream_(std::move(socket)), state_(std::move(state)) {}
  ~HealthConnection() { state_->connections.erase(this); }

  void start() { readRequest(); }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void readRequest() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(state_->options.readTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t /*bytes*/) { self->onRead(ec); });
  }

  void onRead(beast::error_code ec) {
    if (state_->stopped) {
      close();
      return;
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      send({431, kText, "request header too large\n", {}}, Then::Drain);
      return;
    }
    if (ec == http::error::body_limit) {
      send({413, kText, "request body too large\n", {}}, Then::Drain);
      return;
    }
    if (ec && ec.category() == httpErrors() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      send({400, kText, "bad request\n", {}}, Then::Drain);
      return;
    }
    if (ec) {
      close();  // the client went away or timed out
      return;
    }
    const auto& req = parser_->get();
    ++served_;
    HealthResponse response;
    try {
      response = routeHealthRequest(std::string(req.method_string()), std::string(req.target()),
                                    state_->handlers);
    } catch (const std::exception& e) {
      // A handler must not take the io thread (and the daemon) down with it.
      log::get("daemon")->error("health endpoint {}: {}", std::string(req.target()), e.what());
      response = {500, kText, "internal error\n", {}};
    }
    const bool keepAlive = req.keep_alive() && served_ < state_->options.maxRequestsPerConnection;
    send(std::move(response), keepAlive ? Then::Read : Then::Close);
  }

  enum class Then { Read, Close, Drain };

  void send(HealthResponse r, Then then) {
    const bool keepAlive = then == Then::Read;
    response_ = {};
    response_.version(11);
    response_.result(r.status);
    response_.set(http::field::server, "lanyardd");
    response_.set(http::field::content_type, r.contentType);
    if (!r.allow.empty()) {
      response_.set(http::field::allow, r.allow);
    }
    response_.body() = std::move(r.body);
    response_.keep_alive(keepAlive);
    response_.prepare_payload();
    stream_.expires_after(state_->options.writeTimeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this(), then](beast::error_code ec, size_t) {
                        if (ec || then == Then::Close || self->state_->stopped) {
                          self->close();
                        } else if (then == Then::Drain) {
                          self->drain();
                        } else {
                          self->readRequest();
                        }
                      });
  }

  // After an error answer the client may still be sending: closing with unread bytes would
  // reset the connection and lose the answer, so stop sending, read and discard for a moment
  // (bounded in time and bytes), then close.
  void drain() {
    if (drained_ == 0) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.expires_after(kDrainTime);
    }
    stream_.async_read_some(asio::buffer(drainBuffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n + 1;
                              if (ec || self->drained_ > kMaxDrainBytes || self->state_->stopped) {
                                self->close();
                                return;
                              }
                              self->drain();
                            });
  }

  beast::tcp_stream stream_;
  const std::shared_ptr<HealthServer::State> state_;
  beast::flat_buffer buffer_{kMaxHeaderBytes + kMaxBodyBytes};  // its size is a hard limit
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  unsigned served_ = 0;
  std::array<char, 4096> drainBuffer_{};
  size_t drained_ = 0;
};

namespace {

void acceptNext(const std::shared_ptr<HealthServer::State>& state) {
  state->acceptor.async_accept([state](beast::error_code ec, tcp::socket socket) {
    if (state->stopped || ec == asio::error::operation_aborted) {
      return;
    }
    if (ec) {
      // EMFILE and friends: the connection stays queued; try again shortly, without spinning.
      log::get("daemon")->warn("health listener: accepting: {}", ec.message());
      auto retry = std::make_shared<asio::steady_timer>(state->io, std::chrono::milliseconds(100));
      retry->async_wait([state, retry](const beast::error_code& waited) {
        if (!waited && !state->stopped) {
          acceptNext(state);
        }
      });
      return;
    }
    setCloexec(socket.native_handle());
    if (state->connections.size() >= state->options.maxConnections) {
      beast::error_code ignored;
      socket.close(ignored);  // over the limit: refuse rather than queue
    } else {
      auto c = std::make_shared<HealthConnection>(std::move(socket), state);
      state->connections.emplace(c.get(), c);
      c->start();
    }
    acceptNext(state);
  });
}

// "host:port" or "[v6]:port" into host and port (config.cpp has already checked the form).
Result<std::pair<std::string, std::string>> splitListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return fail(Code::InvalidArgument, "\"" + listen + "\" is not host:port");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::pair{host, listen.substr(colon + 1)};
}

Result<void> bindTo(tcp::acceptor& acceptor, const tcp::endpoint& at) {
  beast::error_code ec;
  if (acceptor.is_open()) {
    acceptor.close(ec);
  }
  acceptor.open(at.protocol(), ec);
  if (!ec) {
    setCloexec(acceptor.native_handle());
    // A restart must not wait for the old connections' TIME_WAIT.
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(at, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
    return fail(Code::FailedPrecondition, ec.message());
  }
  return {};
}

}  // namespace

HealthResponse routeHealthRequest(const std::string& method, const std::string& target,
                                  const HealthHandlers& handlers) {
  const std::string_view path = std::string_view(target).substr(0, target.find('?'));
  if (path != "/live" && path != "/ready" && path != "/metrics") {
    return {404, kText, "not found (try /live, /ready or /metrics)\n", {}};
  }
  if (method != "GET") {
    return {405, kText, "method not allowed\n", "GET"};
  }
  if (path == "/live") {
    return {200, kText, "ok\n", {}};  // answered at all: the io loop runs
  }
  if (path == "/ready") {
    auto why = handlers.notReady ? handlers.notReady() : std::nullopt;
    if (why) {
      return {503, kText, "not ready: " + *why + "\n", {}};
    }
    return {200, kText, "ready\n", {}};
  }
  return {200, metrics::kContentType, handlers.metrics ? handlers.metrics() : "", {}};
}

Result<std::unique_ptr<HealthServer>> HealthServer::create(asio::io_context& io,
                                                           const std::string& listen,
                                                           HealthHandlers handlers,
                                                           HealthServerOptions options) {
  const std::string doing = "starting the health listener on " + listen;
  auto parts = splitListen(listen);
  if (!parts) {
    return fail(parts.error().wrap(doing));
  }
  auto state = std::make_shared<State>(io);
  state->handlers = std::move(handlers);
  state->options = options;
  beast::error_code ec;
  tcp::resolver resolver(io);
  // Startup only: a name in /etc/hosts ("localhost") or an address literal.
  auto endpoints = resolver.resolve(parts->first, parts->second,
                                    tcp::resolver::numeric_service | tcp::resolver::passive, ec);
  if (ec) {
    return fail(Code::FailedPrecondition,
                doing + ": resolving " + parts->first + ": " + ec.message());
  }
  Result<void> bound = fail(Code::FailedPrecondition, "no address");
  for (const auto& e : endpoints) {
    bound = bindTo(state->acceptor, e.endpoint());
    if (bound) {
      break;
    }
  }
  if (!bound) {
    return fail(bound.error().wrap(doing));
  }
  std::unique_ptr<HealthServer> server(new HealthServer(state));
  server->endpoint_ = state->acceptor.local_endpoint(ec);
  acceptNext(state);
  return server;
}

HealthServer::~HealthServer() { shutdown(); }

std::string HealthServer::address() const {
  const auto a = endpoint_.address();
  const std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return host + ":" + std::to_string(endpoint_.port());
}

void HealthServer::shutdown() {
  if (state_->stopped) {
    return;
  }
  state_->stopped = true;
  beast::error_code ignored;
  state_->acceptor.close(ignored);
  auto open = state_->connections;  // closing may destroy connections, which erase themselves
  for (auto& [ptr, weak] : open) {
    if (auto c = weak.lock()) {
      c->close();
    }
  }
}

}  // namespace lanyard::daemon
