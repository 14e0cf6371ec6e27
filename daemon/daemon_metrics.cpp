// SPDX-License-Identifier: Apache-2.0
// DaemonMetrics: registration of the daemon's own counters.
#include "daemon/daemon_metrics.h"

namespace lanyard::daemon {
namespace {

metrics::Family<metrics::Counter>& reloads(metrics::Registry& r) {
  return r.counter("lanyard_config_reloads_total",
                   "Configuration reloads (SIGHUP or file change), by result (ok or failed: the "
                   "running configuration was kept)",
                   {"result"});
}

}  // namespace

DaemonMetrics::DaemonMetrics(metrics::Registry& r)
    : caRotations(r.counter("lanyard_ca_rotations_total",
                            "CA rotations: a new CA generation started signing SVIDs")
                      .with()),
      caRotationFailures(r.counter("lanyard_ca_rotation_failures_total",
                                   "Failed attempts to advance CA rotation (retried with backoff)")
                             .with()),
      bundleUpdates(r.counter("lanyard_bundle_updates_total",
                              "Changes of the trust bundle (a CA prepared, activated or dropped)")
                        .with()),
      reloadsOk(reloads(r).with({"ok"})),
      reloadsFailed(reloads(r).with({"failed"})) {}

}  // namespace lanyard::daemon
