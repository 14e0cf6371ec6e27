// SPDX-License-Identifier: Apache-2.0
// HealthServer: the HTTP/1.1 listener for /live, /ready and /metrics (docs/metrics.md), on the
// daemon's io_context with Boost.Beast.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/result.h"

namespace lanyard::daemon {

/// What the routes answer with. Both run on the io_context's thread and must be quick.
struct HealthHandlers {
  /// Why the agent is not ready ("CA expired", ...), or nullopt when it is.
  std::function<std::optional<std::string>()> notReady;
  /// The Prometheus text exposition.
  std::function<std::string()> metrics;
};

struct HealthServerOptions {
  /// An idle or slow client is disconnected after this long without a whole request.
  std::chrono::milliseconds readTimeout{5000};
  /// A response not taken by the client within this long is dropped with the connection.
  std::chrono::milliseconds writeTimeout{5000};
  /// Connections beyond this many are closed at once.
  size_t maxConnections = 64;
  /// Requests served on one keep-alive connection before it is closed.
  unsigned maxRequestsPerConnection = 100;
};

/// The route table, without sockets: the status code, content type and body for a request.
struct HealthResponse {
  unsigned status = 200;
  std::string contentType;
  std::string body;
  /// Extra header (Allow on a 405), empty when none.
  std::string allow;
};
HealthResponse routeHealthRequest(const std::string& method, const std::string& target,
                                  const HealthHandlers& handlers);

/// Owns the listening socket and its connections. Everything runs on the borrowed io_context
/// (one thread); create() and shutdown() are called on that thread or before it runs. The
/// handlers are called only until shutdown() or destruction, whichever is first.
class HealthServer {
 public:
  /// Parses `listen` ("host:port", "[v6]:port"; port 0 picks a free port), resolves the
  /// host, binds and starts accepting. FailedPrecondition naming the address when it cannot
  /// bind (in use, not local, ...).
  static Result<std::unique_ptr<HealthServer>> create(boost::asio::io_context& io,
                                                      const std::string& listen,
                                                      HealthHandlers handlers,
                                                      HealthServerOptions options = {});
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  /// The bound address (with the kernel's port when 0 was asked for).
  boost::asio::ip::tcp::endpoint endpoint() const { return endpoint_; }
  /// "127.0.0.1:8089", "[::1]:8089".
  std::string address() const;
  /// Stops accepting and closes every connection. Idempotent.
  void shutdown();

  struct State;  // shared with the connections, which may outlive the server by a callback

 private:
  explicit HealthServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
  boost::asio::ip::tcp::endpoint endpoint_;
};

}  // namespace lanyard::daemon
