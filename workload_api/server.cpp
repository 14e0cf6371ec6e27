// SPDX-License-Identifier: Apache-2.0
// Server: binds the socket, accepts with accept4 and SO_PEERCRED, hands each connection to
// gRPC with AddInsecureChannelFromFd, and sweeps the peer table (DESIGN.md §1, §7).
#include "workload_api/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_posix.h>

#include "common/file_io.h"
#include "common/log.h"

namespace lanyard::workload_api {
namespace {

constexpr int kBacklog = 4096;
// Workload API requests are a few bytes; anything large is not a client of ours.
constexpr int kMaxRequestBytes = 1 << 20;

std::string errnoText(int err) { return std::strerror(err); }

Result<sockaddr_un> socketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path[0] != '/' || path.size() >= sizeof(addr.sun_path)) {
    return fail(Code::InvalidArgument, "socket path \"" + path +
                                           "\" must be absolute and at most " +
                                           std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// EP-6: a socket left by a dead agent may be replaced; a live one, or anything that is not a
// socket, is refused rather than taken over. Sets `stale` when the path holds a dead socket.
Result<void> inspectSocketPath(const std::string& path, const sockaddr_un& addr, bool& stale) {
  stale = false;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    return fail(Code::FailedPrecondition, "checking " + path + ": " + errnoText(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return fail(Code::FailedPrecondition,
                path + " exists and is not a socket: refusing to replace it");
  }
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    return fail(Code::Internal, "probing " + path + ": " + errnoText(errno));
  }
  bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(probe);
  if (live) {
    return fail(Code::AlreadyExists, "another process is serving on " + path);
  }
  stale = true;
  return {};
}

Result<int> listenOn(const std::string& path) {
  LANYARD_TRY(sockaddr_un addr, socketAddress(path));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (auto made = fileio::makeDirs(dir, 0755); !made) {
    return fail(made.error().wrap("creating the socket directory"));
  }
  bool stale = false;
  LANYARD_TRY_VOID(inspectSocketPath(path, addr, stale));
  if (stale && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fail(Code::FailedPrecondition,
                "removing stale socket " + path + ": " + errnoText(errno));
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(Code::Internal, "creating socket: " + errnoText(errno));
  }
  auto failWith = [&](const std::string& doing) {
    int err = errno;
    ::close(fd);
    return fail(err == EACCES ? Code::PermissionDenied : Code::FailedPrecondition,
                doing + " " + path + ": " + errnoText(err));
  };
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return failWith("binding");
  }
  // EP-6: every local user may connect; what each gets is attestation's decision.
  if (::chmod(path.c_str(), 0777) != 0) {
    return failWith("setting the mode of");
  }
  if (::listen(fd, kBacklog) != 0) {
    return failWith("listening on");
  }
  return fd;
}

// Where an inherited socket is bound, as a path ("@name" for an abstract one).
std::string boundPath(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return "(unknown: " + errnoText(errno) + ")";
  }
  const size_t pathLen = len > offsetof(sockaddr_un, sun_path)
                             ? static_cast<size_t>(len) - offsetof(sockaddr_un, sun_path)
                             : 0;
  if (pathLen == 0) {
    return "(unnamed)";
  }
  if (addr.sun_path[0] == '\0') {
    return "@" + std::string(addr.sun_path + 1, pathLen - 1);
  }
  return std::string(addr.sun_path, ::strnlen(addr.sun_path, pathLen));
}

}  // namespace

Result<void> checkSocketPath(const std::string& path) {
  LANYARD_TRY(sockaddr_un addr, socketAddress(path));
  bool stale = false;
  return inspectSocketPath(path, addr, stale);
}

Server::Server(boost::asio::io_context& io, ServerOptions options)
    : io_(io), options_(std::move(options)), listener_(io), sweepTimer_(io) {}

Result<std::unique_ptr<Server>> Server::create(boost::asio::io_context& io, ServerOptions options,
                                               const WorkloadAttestation& attestation,
                                               IdentitySource& source, const Clock& clock) {
  std::unique_ptr<Server> server(new Server(io, std::move(options)));
  auto log = log::get("workload_api");
  const int inherited = server->options_.listenFd;
  if (inherited >= 0) {
    // Owned from here on, whatever happens next.
    server->listener_.assign(inherited);
    server->servedPath_ = boundPath(inherited);
    if (server->servedPath_ != server->options_.socketPath) {
      // systemd's ListenStream= wins: that is where clients were told to connect.
      log->warn("socket activation: the inherited socket is {}, not socket_path {}; serving {}",
                server->servedPath_, server->options_.socketPath, server->servedPath_);
    }
  } else {
    server->servedPath_ = server->options_.socketPath;
  }
  server->pool_ = std::make_unique<WorkerPool>(server->options_.workers);
  metrics::Registry* registry = server->options_.metrics;
  if (registry == nullptr) {
    server->ownMetrics_ = std::make_unique<metrics::Registry>();
    registry = server->ownMetrics_.get();
  }
  server->metrics_ = std::make_unique<ServiceMetrics>(*registry);
  server->context_.reset(new ServiceContext{
      .peers = server->peers_,
      .pool = *server->pool_,
      .attestation = attestation,
      .source = source,
      .clock = clock,
      .metrics = *server->metrics_,
      .attestTimeout = server->options_.attestTimeout,
      .attestationReuse = server->options_.attestationReuse,
  });
  server->service_ = std::make_unique<WorkloadService>(*server->context_);

  // WAPI-15: the standard health service and reflection share the socket, as in SPIRE.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  server->grpc_ = builder.BuildAndStart();
  if (!server->grpc_) {
    return fail(Code::Internal, "starting the gRPC server failed");
  }

  if (inherited < 0) {
    LANYARD_TRY(int fd, listenOn(server->options_.socketPath));
    server->listener_.assign(fd);
  }
  server->waitForConnections();
  server->scheduleSweep();
  log->info("serving the Workload API on {}{}", server->servedPath_,
            inherited >= 0 ? " (socket activation)" : "");
  return server;
}

Server::~Server() { shutdown(); }

void Server::waitForConnections() {
  listener_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) {
                         if (!ec && !stopped_) {
                           acceptReady();
                         }
                       });
}

void Server::acceptReady() {
  for (;;) {
    // DESIGN.md §7: a blocking descriptor handed to gRPC wedges the server.
    int fd = ::accept4(listener_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      adopt(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      // EMFILE and friends: the connection stays queued; try again shortly.
      log::get("workload_api")->error("accepting on {}: {}", servedPath_, errnoText(errno));
      auto retry = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(100));
      retry->async_wait([this, retry](const boost::system::error_code& ec) {
        if (!ec && !stopped_) {
          waitForConnections();
        }
      });
      return;
    }
    break;
  }
  waitForConnections();
}

void Server::adopt(int fd) {
  auto log = log::get("workload_api");
  ucred cred{};
  socklen_t len = sizeof(cred);
  struct stat st {};
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || ::fstat(fd, &st) != 0) {
    log->warn("reading the credentials of a new connection: {}", errnoText(errno));
    ::close(fd);
    return;
  }
  Peer peer;
  peer.pid = cred.pid;
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  peer.inode = st.st_ino;
  // <sys/pidfd.h> lacks extern "C" on Debian 12 (DESIGN.md §7). SO_PEERPIDFD needs 6.5.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, cred.pid, 0));
  if (pidfd >= 0) {
    peer.pidfd = std::make_shared<const OwnedFd>(pidfd);
  }
  auto start = context_->attestation.startTime(cred.pid);
  if (!start) {
    log->debug("dropping connection from pid {}: {}", cred.pid, start.error().message);
    ::close(fd);
    return;
  }
  peer.startTime = *start;
  log->debug("connection fd {} from pid {} uid {} gid {}", fd, cred.pid, cred.uid, cred.gid);
  peers_.add(fd, std::move(peer));
  grpc::AddInsecureChannelFromFd(grpc_.get(), fd);  // gRPC owns fd from here
}

void Server::scheduleSweep() {
  sweepTimer_.expires_after(options_.sweepInterval);
  sweepTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) {
      return;
    }
    peers_.sweep();
    scheduleSweep();
  });
}

void Server::shutdown(std::chrono::milliseconds grace) {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  boost::system::error_code ignored;
  sweepTimer_.cancel();
  const bool serving = listener_.is_open();
  if (serving) {
    listener_.close(ignored);
    if (!activated()) {
      ::unlink(options_.socketPath.c_str());  // only a socket this server bound
    }
  }
  if (grpc_) {
    // Open streams are cancelled at the deadline; their reactors finish, the pool (still
    // running) completes unary calls, and only then is the pool drained.
    grpc_->Shutdown(std::chrono::system_clock::now() + grace);
    grpc_->Wait();
  }
  pool_.reset();
  if (serving) {
    log::get("workload_api")->info("stopped serving on {}", servedPath_);
  }
}

}  // namespace lanyard::workload_api
