// SPDX-License-Identifier: Apache-2.0
// Daemon: startup, the io_context loop, CA rotation with backoff, SVID renewal, reload.
#include "daemon/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include <boost/asio/post.hpp>
#include <yaml-cpp/yaml.h>

#include "common/file_io.h"
#include "common/log.h"
#include "daemon/socket_activation.h"

namespace lanyard::daemon {
namespace {

constexpr Seconds kMaxRotationBackoff{300};

IdentityPolicy policyOf(const Config& c) {
  return {.entries = c.entries, .x509SvidTtl = c.x509SvidTtl, .jwtSvidTtl = c.jwtSvidTtl};
}

bool sameStat(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

std::optional<struct stat> statOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
  return st;
}

// Keys a reload cannot apply to a running daemon, with their values as text.
std::vector<std::string> restartOnlyChanges(const Config& running, const Config& next) {
  std::vector<std::string> changed;
  auto check = [&](const char* key, const std::string& a, const std::string& b) {
    if (a != b) {
      changed.emplace_back(key);
    }
  };
  check("trust_domain", running.trustDomain.name(), next.trustDomain.name());
  check("socket_path", running.socketPath, next.socketPath);
  check("data_dir", running.dataDir, next.dataDir);
  check("health.listen", running.healthListen, next.healthListen);
  check("attestors", YAML::Dump(running.attestors), YAML::Dump(next.attestors));
  check("node_attestors", running.tpm ? "tpm" : "", next.tpm ? "tpm" : "");
  if (running.tpm && next.tpm && !(*running.tpm == *next.tpm)) {
    changed.emplace_back("node_attestors.tpm");
  }
  // The whole authority section, as the config writes it back.
  auto authorityText = [](const Config& c) {
    std::string y = toYaml(c);
    auto at = y.find("authority:");
    auto end = y.find("\nhealth:");
    return at == std::string::npos ? y : y.substr(at, end == std::string::npos ? end : end - at);
  };
  check("authority", authorityText(running), authorityText(next));
  return changed;
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::create(DaemonOptions options) {
  std::unique_ptr<Daemon> d(new Daemon(std::move(options)));
  LANYARD_TRY_VOID(d->start());
  return d;
}

Daemon::~Daemon() {
  if (server_) {
    server_->shutdown();
  }
  if (dataDirLock_ >= 0) {
    ::close(dataDirLock_);
  }
}

Result<void> Daemon::start() {
  // systemd's variables first: they are unset (unsetenv) before any thread exists.
  notifier_ = SystemdNotifier::fromEnvironment();
  LANYARD_TRY(std::optional<int> activated, takeActivatedSocket());
  if (options_.configPath) {
    configStat_ = statOf(*options_.configPath);
    LANYARD_TRY(config_, loadConfig(*options_.configPath));
  } else {
    config_ = embeddedDefault(::getuid());
  }
  const std::string level = options_.logLevel.value_or(config_.logLevel);
  if (auto logged = log::configure(level, config_.logFormat); !logged) {
    return fail(logged.error().wrap("setting up logging"));
  }
  auto log = log::get("daemon");
  log->info("lanyardd starting: trust domain {}, {} entries, configuration {}",
            config_.trustDomain.name(), config_.entries.size(),
            options_.configPath.value_or("embedded default"));

  // Refuse a taken socket or data directory before anything is written (DESIGN.md §6:
  // nothing half-started).
  // An activated socket is live (systemd listens on it) and is served as it is.
  if (!activated) {
    if (auto socket = workload_api::checkSocketPath(config_.socketPath); !socket) {
      return fail(socket.error().wrap("starting the Workload API"));
    }
  }
  LANYARD_TRY_VOID(lockDataDir());
  // Bound before the CA state is touched: a taken port stops startup with nothing changed.
  LANYARD_TRY_VOID(startHealth());
  auto authority = svid::Authority::create(config_.authority, clock_);
  if (!authority) {
    return fail(authority.error().wrap("loading the CA state in " + config_.dataDir));
  }
  authority_ = std::move(*authority);

  // An empty `attestors:` map means the unix attestor alone (Config::attestors).
  auto attestors = attestors::AttestorSet::fromConfig(
      config_.attestors.size() == 0 ? YAML::Node() : config_.attestors);
  if (!attestors) {
    return fail(attestors.error().wrap("setting up attestors"));
  }
  attestation_ = std::make_unique<ProcessAttestation>(
      std::move(*attestors), std::make_unique<attestors::unix_process::SystemProcReader>(),
      metrics_);
  identities_ =
      std::make_unique<IdentityProvider>(*authority_, clock_, policyOf(config_), &metrics_);
  // The node's TPM selectors: measured once here (logged), then on an interval and on SIGHUP.
  // A TPM that fails leaves them absent; the daemon serves everything else (docs/tpm.md).
  if (config_.tpm) {
    const TpmNodeConfig& t = *config_.tpm;
    tpm_ = std::make_unique<attestors::tpm::NodeMonitor>(
        attestors::tpm::Settings{.tcti = t.tcti,
                                 .pcrs = t.pcrs,
                                 .ekHandle = t.ekHandle,
                                 .ekCaBundle = t.ekCaBundle,
                                 .interval = t.remeasureInterval},
        [this](const std::vector<attestors::Selector>& selectors) {
          identities_->setNodeSelectors(selectors);
        });
  }

  workload_api::ServerOptions serverOptions{
      .socketPath = config_.socketPath,
      .listenFd = activated.value_or(-1),
      .workers = std::max(2u, std::thread::hardware_concurrency()),
      .metrics = &metrics_,
  };
  auto server =
      workload_api::Server::create(io_, serverOptions, *attestation_, *identities_, clock_);
  if (!server) {
    return fail(server.error().wrap("starting the Workload API"));
  }
  server_ = std::move(*server);
  waitForSignals();
  scheduleTick();
  return {};
}

Result<void> Daemon::lockDataDir() {
  if (auto made = fileio::makeDirs(config_.dataDir, 0700); !made) {
    return fail(made.error().wrap("creating data_dir"));
  }
  // One daemon per data_dir: two would race on the CA state when rotating. The lock is held
  // until exit (the descriptor is never closed); the kernel drops it if the daemon dies.
  const std::string path = config_.dataDir + "/lanyardd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(Code::FailedPrecondition, "opening " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return fail(Code::AlreadyExists,
                  "another lanyardd is using data_dir " + config_.dataDir + " (" + path + ")");
    }
    return fail(Code::FailedPrecondition, "locking " + path + ": " + std::strerror(err));
  }
  dataDirLock_ = fd;
  return {};
}

void Daemon::run() {
  // READY=1 from inside the loop: the socket listens and the loop that accepts on it runs.
  boost::asio::post(io_, [this] {
    notifier_.ready("serving the Workload API on " + server_->socketPath());
    notifier_.startWatchdog(io_);
  });
  io_.run();
  log::get("daemon")->info("lanyardd stopped");
}

void Daemon::stop() {
  log::get("daemon")->info("lanyardd stopping");
  notifier_.stopping();
  notifier_.stopWatchdog();
  signals_.cancel();
  tickTimer_.cancel();
  if (health_) {
    health_->shutdown();
  }
  if (server_) {
    server_->shutdown();
  }
  io_.stop();
}

void Daemon::waitForSignals() {
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    if (signal == SIGHUP) {
      log::get("daemon")->info("SIGHUP: reloading the configuration");
      (void)reload();  // reload() logs its own outcome
      if (tpm_) {
        tpm_->remeasure();
      }
      waitForSignals();
      return;
    }
    stop();
  });
}

void Daemon::scheduleTick() {
  tickTimer_.expires_after(options_.tick);
  tickTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) {
      tick();
      scheduleTick();
    }
  });
}

void Daemon::tick() {
  rotateAuthority();
  identities_->renewDue();
  if (configFileChanged()) {
    log::get("daemon")->info("{} changed: reloading", *options_.configPath);
    (void)reload();
  }
}

void Daemon::rotateAuthority() {
  const SysTime now = clock_.now();
  if (now < authority_->nextRotation() || now < rotationRetryAt_) {
    return;
  }
  auto log = log::get("daemon");
  const auto before = authority_->current();
  auto changed = authority_->rotate();
  if (!changed) {
    daemonMetrics_.caRotationFailures.inc();
    // nextRotation() stays in the past while minting a CA fails: back off, doubling.
    log->error("rotating the CA (retrying in {} s): {}", rotationBackoff_.count(),
               changed.error().message);
    rotationRetryAt_ = now + rotationBackoff_;
    rotationBackoff_ = std::min(rotationBackoff_ * 2, kMaxRotationBackoff);
    return;
  }
  rotationBackoff_ = Seconds(1);
  if (*changed) {
    const auto after = authority_->current();
    if (after->bundle->sequence() != before->bundle->sequence()) {
      daemonMetrics_.bundleUpdates.inc();
    }
    if (after->activeNotAfter != before->activeNotAfter) {
      daemonMetrics_.caRotations.inc();  // a new CA signs from now on
    }
    auto bundle = authority_->current()->bundle;
    log->info("CA rotation: bundle of {} now has {} X.509 and {} JWT authorities (sequence {})",
              config_.trustDomain.name(), bundle->x509Authorities().size(),
              bundle->jwtAuthorities().size(), bundle->sequence().value_or(0));
    identities_->authorityChanged();
  }
}

bool Daemon::configFileChanged() {
  if (!options_.configPath) {
    return false;
  }
  auto now = statOf(*options_.configPath);
  if (!now) {
    return false;  // being replaced, or removed: keep the running configuration
  }
  if (configStat_ && sameStat(*configStat_, *now)) {
    return false;
  }
  configStat_ = now;
  return true;
}

Result<void> Daemon::reload() {
  if (!options_.configPath) {
    return {};
  }
  auto log = log::get("daemon");
  // RELOADING=1, then READY=1 whatever the outcome: a failed reload keeps serving.
  notifier_.reloading();
  configStat_ = statOf(*options_.configPath);
  auto next = loadConfig(*options_.configPath);
  if (!next) {
    log->error("reloading: {} (keeping the running configuration)", next.error().message);
    daemonMetrics_.reloadsFailed.inc();
    notifier_.ready("reload failed, serving the previous configuration: " + next.error().message);
    return fail(next.error());
  }
  for (const auto& key : restartOnlyChanges(config_, *next)) {
    log->warn("reloading {}: {} changed; restart lanyardd to apply it", *options_.configPath, key);
  }
  if (auto logged = log::configure(options_.logLevel.value_or(next->logLevel), next->logFormat);
      !logged) {
    log->error("reloading: {}", logged.error().message);
  }
  config_.entries = next->entries;
  config_.x509SvidTtl = next->x509SvidTtl;
  config_.jwtSvidTtl = next->jwtSvidTtl;
  config_.logLevel = next->logLevel;
  config_.logFormat = next->logFormat;
  identities_->setPolicy(policyOf(config_));
  log->info("reloaded {}: {} entries", *options_.configPath, config_.entries.size());
  daemonMetrics_.reloadsOk.inc();
  notifier_.ready("serving the Workload API on " + server_->socketPath());
  return {};
}

}  // namespace lanyard::daemon
