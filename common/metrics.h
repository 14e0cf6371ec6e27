// SPDX-License-Identifier: Apache-2.0
// Metrics: counters, gauges and histograms with label sets, gauges computed when scraped, and
// their Prometheus text exposition (format 0.0.4) for the daemon's /metrics (docs/metrics.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lanyard::metrics {

/// A value that only goes up. Thread-safe, lock-free.
class Counter {
 public:
  /// Adds `v` (>= 0; a negative amount is a bug and aborts).
  void inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Observations counted into buckets with fixed upper bounds (seconds, bytes...). Thread-safe,
/// lock-free.
class Histogram {
 public:
  /// `bounds`: strictly increasing, finite upper bounds; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    /// Cumulative counts, one per bound, then the +Inf bucket (== count).
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  /// A consistent view for exposition: the +Inf bucket equals the count.
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

/// One sample of a gauge computed at scrape time.
struct Sample {
  std::vector<std::string> labelValues;
  double value = 0;
};

enum class Type { Counter, Gauge, Histogram };

/// The metrics of one name: one child per distinct set of label values, created on first use
/// and never removed, so a reference to a child stays valid for the registry's lifetime.
/// Thread-safe (mu_ guards children_).
template <class M>
class Family {
 public:
  /// The child for these label values (as many as the family has label names; a mismatch is
  /// a bug and aborts).
  M& with(const std::vector<std::string>& labelValues = {});

 private:
  friend class Registry;
  template <class F>
  Family(size_t labelCount, F make) : labelCount_(labelCount), make_(std::move(make)) {}

  const size_t labelCount_;
  const std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

/// Every metric of one process. Owned by the daemon; components create (or find) their
/// families once and keep references to the children they update. Thread-safe.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// The family called `name`, created on first call. A second call with the same name and
  /// type and label names returns the same family; a different type or label names is a bug
  /// and aborts, as are names and label names outside [a-zA-Z_:][a-zA-Z0-9_:]*.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           const std::vector<std::string>& labelNames = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       const std::vector<std::string>& labelNames = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               const std::vector<std::string>& labelNames,
                               const std::vector<double>& bounds);
  /// A gauge whose samples `collect` computes at each scrape (no samples: only HELP and TYPE
  /// are written). `collect` runs on the scraping thread without the registry's locks held;
  /// it must be thread-safe and must outlive every call to exposition().
  void callbackGauge(const std::string& name, const std::string& help,
                     const std::vector<std::string>& labelNames,
                     std::function<std::vector<Sample>()> collect);

  /// Every metric in the Prometheus text format 0.0.4, in registration order, children
  /// sorted by label values.
  std::string exposition() const;

 private:
  struct Entry;
  Entry& add(const std::string& name, const std::string& help,
             const std::vector<std::string>& labelNames, Type type, bool& created);

  mutable std::mutex mu_;  // guards entries_ (the Entry objects themselves never move)
  std::vector<std::unique_ptr<Entry>> entries_;
};

/// The text-format escaping of a label value (backslash, double quote, newline) and of a HELP
/// text (backslash, newline).
std::string escapeLabelValue(const std::string& s);
std::string escapeHelp(const std::string& s);
/// A sample value as the text format writes it: shortest round-trip form, +Inf, -Inf, NaN.
std::string formatValue(double v);

/// The content type of exposition().
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// --- implementation --------------------------------------------------------------------------

void familyLabelMismatch(size_t want, size_t got);

template <class M>
M& Family<M>::with(const std::vector<std::string>& labelValues) {
  if (labelValues.size() != labelCount_) {
    familyLabelMismatch(labelCount_, labelValues.size());
  }
  std::lock_guard lock(mu_);
  auto& slot = children_[labelValues];
  if (!slot) {
    slot = make_();
  }
  return *slot;
}

}  // namespace lanyard::metrics
