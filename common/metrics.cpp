// SPDX-License-Identifier: Apache-2.0
// Metrics registry and the Prometheus text exposition (format 0.0.4).
#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include <spdlog/fmt/fmt.h>

#include "common/result.h"

namespace lanyard::metrics {
namespace {

bool validName(std::string_view s) {
  auto first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  return !s.empty() && (first(s[0]) || s[0] == ':') &&
         std::all_of(s.begin() + 1, s.end(),
                     [&](char c) { return first(c) || c == ':' || (c >= '0' && c <= '9'); });
}

const char* typeName(Type t) {
  switch (t) {
    case Type::Counter:
      return "counter";
    case Type::Gauge:
      return "gauge";
    case Type::Histogram:
      return "histogram";
  }
  return "untyped";
}

// `name{a="x",b="y"}` or `name` without labels; `extra` is one more label (le) when set.
void writeSeries(std::string& out, const std::string& name, const std::vector<std::string>& names,
                 const std::vector<std::string>& values, const char* extraName = nullptr,
                 const std::string& extraValue = {}) {
  out += name;
  if (names.empty() && extraName == nullptr) {
    return;
  }
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : ",") + names[i] + "=\"" + escapeLabelValue(values[i]) + '"';
  }
  if (extraName != nullptr) {
    out += std::string(names.empty() ? "" : ",") + extraName + "=\"" + extraValue + '"';
  }
  out += '}';
}

void writeSample(std::string& out, const std::string& name, const std::vector<std::string>& names,
                 const std::vector<std::string>& values, double v) {
  writeSeries(out, name, names, values);
  out += ' ' + formatValue(v) + '\n';
}

void writeHistogram(std::string& out, const std::string& name,
                    const std::vector<std::string>& names, const std::vector<std::string>& values,
                    const Histogram::Snapshot& s) {
  for (size_t i = 0; i <= s.bounds.size(); ++i) {
    writeSeries(out, name + "_bucket", names, values, "le",
                i < s.bounds.size() ? formatValue(s.bounds[i]) : "+Inf");
    out += ' ' + std::to_string(s.cumulative[i]) + '\n';
  }
  writeSample(out, name + "_sum", names, values, s.sum);
  writeSample(out, name + "_count", names, values, static_cast<double>(s.count));
}

}  // namespace

void familyLabelMismatch(size_t want, size_t got) {
  LANYARD_ASSERT(want == got, "a metric child names as many label values as its family has labels");
}

void Counter::inc(double v) {
  LANYARD_ASSERT(v >= 0, "a counter never goes down");
  value_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    LANYARD_ASSERT(std::isfinite(bounds_[i]) && (i == 0 || bounds_[i - 1] < bounds_[i]),
                   "histogram bounds are finite and strictly increasing");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double v) {
  // The first bound >= v: Prometheus buckets are "less than or equal" (le).
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

struct Registry::Entry {
  std::string name;
  std::string help;
  Type type = Type::Gauge;
  std::vector<std::string> labelNames;
  std::vector<double> bounds;  // histograms only
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;
  std::function<std::vector<Sample>()> collect;  // callback gauges only
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::add(const std::string& name, const std::string& help,
                               const std::vector<std::string>& labelNames, Type type,
                               bool& created) {
  LANYARD_ASSERT(validName(name), "metric names match [a-zA-Z_:][a-zA-Z0-9_:]*");
  for (const auto& l : labelNames) {
    LANYARD_ASSERT(validName(l) && l.find(':') == std::string::npos && l != "le",
                   "label names match [a-zA-Z_][a-zA-Z0-9_]* and are not le");
  }
  std::lock_guard lock(mu_);
  for (auto& e : entries_) {
    if (e->name == name) {
      LANYARD_ASSERT(e->type == type && e->labelNames == labelNames && !e->collect,
                     "a metric name is registered once per type and label names");
      created = false;
      return *e;
    }
  }
  auto e = std::make_unique<Entry>();
  e->name = name;
  e->help = help;
  e->type = type;
  e->labelNames = labelNames;
  created = true;
  entries_.push_back(std::move(e));
  return *entries_.back();
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   const std::vector<std::string>& labelNames) {
  bool created = false;
  Entry& e = add(name, help, labelNames, Type::Counter, created);
  std::lock_guard lock(mu_);
  if (!e.counters) {
    e.counters.reset(
        new Family<Counter>(labelNames.size(), [] { return std::make_unique<Counter>(); }));
  }
  return *e.counters;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               const std::vector<std::string>& labelNames) {
  bool created = false;
  Entry& e = add(name, help, labelNames, Type::Gauge, created);
  std::lock_guard lock(mu_);
  if (!e.gauges) {
    e.gauges.reset(new Family<Gauge>(labelNames.size(), [] { return std::make_unique<Gauge>(); }));
  }
  return *e.gauges;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       const std::vector<std::string>& labelNames,
                                       const std::vector<double>& bounds) {
  bool created = false;
  Entry& e = add(name, help, labelNames, Type::Histogram, created);
  std::lock_guard lock(mu_);
  if (!e.histograms) {
    e.bounds = bounds;
    e.histograms.reset(new Family<Histogram>(
        labelNames.size(), [bounds] { return std::make_unique<Histogram>(bounds); }));
  }
  LANYARD_ASSERT(e.bounds == bounds, "a histogram is registered with one set of bounds");
  return *e.histograms;
}

void Registry::callbackGauge(const std::string& name, const std::string& help,
                             const std::vector<std::string>& labelNames,
                             std::function<std::vector<Sample>()> collect) {
  bool created = false;
  Entry& e = add(name, help, labelNames, Type::Gauge, created);
  LANYARD_ASSERT(created, "a computed gauge is registered once");
  std::lock_guard lock(mu_);
  e.collect = std::move(collect);
}

std::string Registry::exposition() const {
  // What to write, taken under the lock (families and callbacks are set up under it); the
  // callbacks then run without it.
  struct View {
    const Entry* e;
    const Family<Counter>* counters;
    const Family<Gauge>* gauges;
    const Family<Histogram>* histograms;
    std::function<std::vector<Sample>()> collect;
  };
  std::vector<View> views;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : entries_) {
      views.push_back(
          {e.get(), e->counters.get(), e->gauges.get(), e->histograms.get(), e->collect});
    }
  }
  std::string out;
  for (const View& v : views) {
    const Entry& e = *v.e;
    out += "# HELP " + e.name + ' ' + escapeHelp(e.help) + '\n';
    out += "# TYPE " + e.name + ' ' + typeName(e.type) + '\n';
    if (v.collect) {
      auto samples = v.collect();
      std::sort(samples.begin(), samples.end(),
                [](const Sample& a, const Sample& b) { return a.labelValues < b.labelValues; });
      for (const auto& s : samples) {
        LANYARD_ASSERT(s.labelValues.size() == e.labelNames.size(),
                       "a computed sample has one value per label name");
        writeSample(out, e.name, e.labelNames, s.labelValues, s.value);
      }
    } else if (v.counters != nullptr) {
      std::lock_guard lock(v.counters->mu_);
      for (const auto& [values, c] : v.counters->children_) {
        writeSample(out, e.name, e.labelNames, values, c->value());
      }
    } else if (v.gauges != nullptr) {
      std::lock_guard lock(v.gauges->mu_);
      for (const auto& [values, g] : v.gauges->children_) {
        writeSample(out, e.name, e.labelNames, values, g->value());
      }
    } else if (v.histograms != nullptr) {
      std::lock_guard lock(v.histograms->mu_);
      for (const auto& [values, h] : v.histograms->children_) {
        writeHistogram(out, e.name, e.labelNames, values, h->snapshot());
      }
    }
  }
  return out;
}

std::string escapeLabelValue(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeHelp(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  // Whole numbers as integers (counts, seconds), others in fmt's shortest round-trip form.
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

}  // namespace lanyard::metrics
