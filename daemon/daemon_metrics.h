// SPDX-License-Identifier: Apache-2.0
// DaemonMetrics: the counters the daemon itself updates — CA rotation and configuration
// reloads (docs/metrics.md).
#pragma once

#include "common/metrics.h"

namespace lanyard::daemon {

/// Children of families in a borrowed Registry, which must outlive this. Thread-safe.
struct DaemonMetrics {
  explicit DaemonMetrics(metrics::Registry& registry);

  /// A new CA generation started signing.
  metrics::Counter& caRotations;
  /// Authority::rotate() failed (retried with backoff).
  metrics::Counter& caRotationFailures;
  /// The trust bundle changed (a CA prepared, activated or dropped).
  metrics::Counter& bundleUpdates;
  /// Configuration reloads (SIGHUP or file change) that applied, and that were refused.
  metrics::Counter& reloadsOk;
  metrics::Counter& reloadsFailed;
};

}  // namespace lanyard::daemon
