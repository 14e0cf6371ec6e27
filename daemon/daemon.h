// SPDX-License-Identifier: Apache-2.0
// Daemon: lanyardd's wiring — configuration, Authority, attestors, identities and the Workload
// API server on one io_context, with rotation, renewal, reload and signals (DESIGN.md §1–§6).
#pragma once

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "attestors/tpm/node_attestor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "daemon/config.h"
#include "daemon/daemon_metrics.h"
#include "daemon/health_server.h"
#include "daemon/identity_provider.h"
#include "daemon/process_attestation.h"
#include "daemon/systemd_notifier.h"
#include "svid/authority.h"
#include "workload_api/server.h"

namespace lanyard::daemon {

struct DaemonOptions {
  /// The configuration file; none means the embedded default (DESIGN.md §6).
  std::optional<std::string> configPath;
  /// Overrides log_level from the file (also across reloads).
  std::optional<std::string> logLevel;
  /// How often rotation, renewal and the config file are checked.
  std::chrono::milliseconds tick{500};
};

/// Owns every long-lived object, in construction order (STYLE.md §6). One thread runs the
/// io_context (timers, signals, the acceptor); gRPC and the worker pool have their own.
class Daemon {
 public:
  /// Loads and checks the configuration, sets up logging, loads or creates the CA state,
  /// builds the attestors and starts serving. Nothing is left half-started on failure.
  static Result<std::unique_ptr<Daemon>> create(DaemonOptions options);
  ~Daemon();

  /// Serves until SIGINT or SIGTERM, or until stop(). Reloads on SIGHUP and when the
  /// configuration file changes.
  void run();
  /// Stops serving and makes run() return. Call on the io_context's thread.
  void stop();
  /// Re-reads the configuration file: entries, default TTLs and logging apply at once (open
  /// streams hear of changed identities); other keys need a restart and are reported. A bad
  /// file keeps the running configuration. No-op without a file.
  Result<void> reload();

  const Config& config() const { return config_; }
  boost::asio::io_context& io() { return io_; }

 private:
  explicit Daemon(DaemonOptions options) : options_(std::move(options)) {}
  Result<void> start();
  Result<void> lockDataDir();
  void scheduleTick();
  void tick();
  void rotateAuthority();
  void waitForSignals();
  bool configFileChanged();
  // daemon_health.cpp: the /live, /ready, /metrics listener (unless health.listen is off).
  Result<void> startHealth();
  void registerComputedMetrics();
  std::optional<std::string> notReady() const;

  boost::asio::io_context io_;
  const DaemonOptions options_;
  Config config_{embeddedDefault(0)};
  SystemClock clock_;
  // Before every component that records into it; thread-safe (docs/metrics.md).
  metrics::Registry metrics_;
  DaemonMetrics daemonMetrics_{metrics_};
  std::unique_ptr<svid::Authority> authority_;
  std::unique_ptr<ProcessAttestation> attestation_;
  std::unique_ptr<IdentityProvider> identities_;
  // After identities_, which its listener calls: stopped (joined) before identities_ goes.
  std::unique_ptr<attestors::tpm::NodeMonitor> tpm_;
  std::unique_ptr<workload_api::Server> server_;
  // Type=notify: READY/RELOADING/STOPPING and the watchdog (io thread only).
  SystemdNotifier notifier_;
  boost::asio::signal_set signals_{io_};
  boost::asio::steady_timer tickTimer_{io_};
  int dataDirLock_ = -1;  // flock()ed for the daemon's lifetime
  std::optional<struct stat> configStat_;
  // A failed CA rotation is retried with backoff, not on every tick (io thread only).
  SysTime rotationRetryAt_{};
  Seconds rotationBackoff_{1};
  // Last: destroyed first, so that no scrape reaches a member being destroyed.
  std::unique_ptr<HealthServer> health_;
};

}  // namespace lanyard::daemon
