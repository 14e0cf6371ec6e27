// SPDX-License-Identifier: Apache-2.0
// The process-wide system clock.
#include "common/clock.h"

namespace lanyard {

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace lanyard
