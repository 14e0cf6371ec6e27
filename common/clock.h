// SPDX-License-Identifier: Apache-2.0
// Clock: the only source of wall time, injected so tests control it (STYLE.md §9).
#pragma once

#include <atomic>
#include <chrono>

namespace lanyard {

using SysTime = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

/// Wall-clock source. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  /// The current wall time.
  virtual SysTime now() const = 0;
};

/// The real system clock.
class SystemClock final : public Clock {
 public:
  SysTime now() const override { return std::chrono::system_clock::now(); }
  /// A process-wide instance.
  static const SystemClock& instance();
};

/// A clock that only moves when told to; for tests and benchmarks.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(SysTime start) : now_(start.time_since_epoch().count()) {}
  SysTime now() const override { return SysTime(SysTime::duration(now_.load())); }
  /// Moves the clock forward (or back, with a negative duration).
  void advance(SysTime::duration d) { now_ += d.count(); }
  void set(SysTime t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<SysTime::rep> now_;
};

/// Whole seconds since the Unix epoch.
inline int64_t unixSeconds(SysTime t) {
  return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}
/// Seconds since the epoch as SysTime, saturating at SysTime's range (about ±292 years around
/// 1970): certificates may say 9999-12-31 (RFC 5280 "no well-defined expiration").
inline SysTime fromUnixSeconds(int64_t s) {
  constexpr int64_t kMax =
      std::chrono::duration_cast<Seconds>(SysTime::max().time_since_epoch()).count();
  constexpr int64_t kMin =
      std::chrono::duration_cast<Seconds>(SysTime::min().time_since_epoch()).count();
  if (s >= kMax) {
    return SysTime::max();
  }
  if (s <= kMin) {
    return SysTime::min();
  }
  return SysTime(Seconds(s));
}

}  // namespace lanyard
