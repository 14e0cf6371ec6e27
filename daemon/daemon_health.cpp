// SPDX-License-Identifier: Apache-2.0
// Daemon: the health listener's wiring — readiness, and the gauges computed at each scrape.
#include <sys/stat.h>

#include <chrono>
#include <string>

#include "common/log.h"
#include "daemon/daemon.h"

namespace lanyard::daemon {
namespace {

double secondsUntil(SysTime when, SysTime now) {
  return std::chrono::duration<double>(when - now).count();
}

}  // namespace

void Daemon::registerComputedMetrics() {
  // The callbacks read members that are built later in start() (null until then) and that
  // are destroyed after health_, the only caller of exposition() (STYLE.md §6).
  metrics_.callbackGauge(
      "lanyard_ca_expiry_seconds",
      "Seconds until the active CA expires (negative once it has expired)", {},
      [this]() -> std::vector<metrics::Sample> {
        if (!authority_) {
          return {};
        }
        return {{{}, secondsUntil(authority_->current()->activeNotAfter, clock_.now())}};
      });
  metrics_.callbackGauge(
      "lanyard_svid_expiry_seconds",
      "Seconds until the soonest-expiring cached X.509-SVID expires (absent while none is cached)",
      {}, [this]() -> std::vector<metrics::Sample> {
        auto soonest = identities_ ? identities_->soonestX509Expiry() : std::nullopt;
        if (!soonest) {
          return {};
        }
        return {{{}, secondsUntil(*soonest, clock_.now())}};
      });
  metrics_.callbackGauge("lanyard_svids_cached", "SVIDs in the identity cache, by type", {"type"},
                         [this]() -> std::vector<metrics::Sample> {
                           if (!identities_) {
                             return {};
                           }
                           return {{{"x509"}, static_cast<double>(identities_->cachedX509())},
                                   {{"jwt"}, static_cast<double>(identities_->cachedJwt())}};
                         });
}

Result<void> Daemon::startHealth() {
  registerComputedMetrics();
  auto log = log::get("daemon");
  if (config_.healthListen == kHealthListenOff) {
    log->info("health listener disabled (health.listen: off)");
    return {};
  }
  HealthHandlers handlers{
      .notReady = [this] { return notReady(); },
      .metrics = [this] { return metrics_.exposition(); },
  };
  LANYARD_TRY(health_, HealthServer::create(io_, config_.healthListen, std::move(handlers)));
  log->info("serving /live, /ready and /metrics on http://{}", health_->address());
  return {};
}

std::optional<std::string> Daemon::notReady() const {
  if (!authority_ || !attestation_ || !identities_ || !server_) {
    return "starting";
  }
  if (!server_->serving()) {
    return "the Workload API socket is not serving";
  }
  // Served but unreachable: the socket file was removed (a tmpfiles cleanup, a stray rm).
  const std::string& path = server_->socketPath();
  struct stat st {};
  if (!path.empty() && path[0] == '/' &&
      (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))) {
    return "the Workload API socket " + path + " is gone";
  }
  const SysTime now = clock_.now();
  const SysTime caNotAfter = authority_->current()->activeNotAfter;
  if (now >= caNotAfter) {
    return "the active CA expired " +
           std::to_string(std::chrono::duration_cast<Seconds>(now - caNotAfter).count()) + " s ago";
  }
  if (attestation_->attestors().names().empty()) {
    return "no attestor is initialised";
  }
  return std::nullopt;
}

}  // namespace lanyard::daemon
