// SPDX-License-Identifier: Apache-2.0
// Server: the Workload API endpoint on a Unix socket — the acceptor that learns who connected,
// the peer table, the gRPC callback server and the worker pool (DESIGN.md §1, EP-1, EP-6).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <grpcpp/grpcpp.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/result.h"
#include "workload_api/peer_table.h"
#include "workload_api/service.h"
#include "workload_api/worker_pool.h"
#include "workload_api/workload_attestation.h"

namespace lanyard::workload_api {

struct ServerOptions {
  /// The socket path (absolute, at most 107 bytes).
  std::string socketPath;
  /// A listening AF_UNIX stream socket inherited through socket activation (systemd), already
  /// checked by the caller, or -1. When set, the Server owns it from create() on and serves it
  /// instead of binding socketPath: no directory, unlink, bind or chmod, and the socket file is
  /// left alone on shutdown (systemd owns it). An inherited socket bound to another path than
  /// socketPath is served anyway, with a warning.
  int listenFd = -1;
  /// Worker threads for attestation and minting.
  unsigned workers = 2;
  std::chrono::milliseconds attestTimeout{5000};
  /// ServiceContext::attestationReuse.
  std::chrono::milliseconds attestationReuse{10000};
  /// How often the peer table forgets closed connections.
  std::chrono::milliseconds sweepInterval{10000};
  /// Where the service's metrics go (docs/metrics.md); none: a registry of the Server's own.
  /// Borrowed for the Server's lifetime.
  metrics::Registry* metrics = nullptr;
};

/// Checks, without changing anything, that a Server could take `path`: absolute and short
/// enough, and either free or a stale socket. FailedPrecondition for a path that is not a
/// socket, AlreadyExists when another process serves there (EP-6).
Result<void> checkSocketPath(const std::string& path);

/// Owns everything that serves the socket. The acceptor and the sweep timer run on the
/// borrowed io_context (one thread: the daemon's); gRPC has its own threads. Borrows
/// `attestation`, `source` and `clock` for its lifetime. shutdown() (or the destructor) stops
/// accepting, ends every call and removes the socket file.
class Server {
 public:
  /// Creates the socket's directory when missing, removes a stale socket (refusing a path that
  /// is not a socket, or one another process still serves), binds with mode 0777 (EP-6: every
  /// local user may connect; attestation decides what they get), listens and starts serving.
  static Result<std::unique_ptr<Server>> create(boost::asio::io_context& io, ServerOptions options,
                                                const WorkloadAttestation& attestation,
                                                IdentitySource& source, const Clock& clock);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Stops accepting, cancels open calls (waiting at most `grace`), removes the socket file.
  /// Idempotent. Call from the io_context's thread or after it stopped.
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(500));

  const PeerTable& peers() const { return peers_; }
  /// Whether the socket is open and accepting (false after shutdown()). io_context thread.
  bool serving() const { return !stopped_ && listener_.is_open(); }
  int64_t openStreams() const { return context_->openStreams.load(); }
  /// The path served: socketPath, or where an inherited socket is bound ("@name" when
  /// abstract).
  const std::string& socketPath() const { return servedPath_; }
  /// Whether the socket was inherited (socket activation) rather than bound here.
  bool activated() const { return options_.listenFd >= 0; }

 private:
  Server(boost::asio::io_context& io, ServerOptions options);
  void waitForConnections();
  void acceptReady();
  void adopt(int fd);
  void scheduleSweep();

  boost::asio::io_context& io_;
  const ServerOptions options_;
  PeerTable peers_;
  std::unique_ptr<metrics::Registry> ownMetrics_;  // when ServerOptions::metrics is null
  std::unique_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<ServiceContext> context_;
  std::unique_ptr<WorkloadService> service_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<grpc::Server> grpc_;
  boost::asio::posix::stream_descriptor listener_;  // io_context thread only
  boost::asio::steady_timer sweepTimer_;
  std::string servedPath_;
  bool stopped_ = false;
};

}  // namespace lanyard::workload_api
