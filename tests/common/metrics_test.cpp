// SPDX-License-Identifier: Apache-2.0
// Tests for common/metrics.cpp: counters, gauges, histograms, computed gauges and the
// Prometheus text exposition (format 0.0.4).
#include "common/metrics.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace lanyard::metrics {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("a counter family writes one sample per label set, sorted, with HELP and TYPE",
          "[common][metrics]") {
  Registry r;
  auto& issued = r.counter("lanyard_svids_issued_total", "SVIDs minted", {"type"});
  issued.with({"x509"}).inc();
  issued.with({"x509"}).inc(2);
  issued.with({"jwt"}).inc();
  CHECK(issued.with({"x509"}).value() == 3);
  CHECK(r.exposition() ==
        "# HELP lanyard_svids_issued_total SVIDs minted\n"
        "# TYPE lanyard_svids_issued_total counter\n"
        "lanyard_svids_issued_total{type=\"jwt\"} 1\n"
        "lanyard_svids_issued_total{type=\"x509\"} 3\n");
}

TEST_CASE("registering a name again returns the same family", "[common][metrics]") {
  Registry r;
  auto& a = r.counter("lanyard_x_total", "x", {"k"});
  auto& b = r.counter("lanyard_x_total", "x", {"k"});
  CHECK(&a == &b);
  a.with({"v"}).inc();
  CHECK(b.with({"v"}).value() == 1);
}

TEST_CASE("gauges go up and down and write without labels as a bare name", "[common][metrics]") {
  Registry r;
  Gauge& g = r.gauge("lanyard_g", "a gauge").with();
  g.inc();
  g.inc();
  g.dec();
  CHECK(g.value() == 1);
  g.set(-2.5);
  CHECK(r.exposition() == "# HELP lanyard_g a gauge\n# TYPE lanyard_g gauge\nlanyard_g -2.5\n");
}

TEST_CASE("a histogram writes cumulative buckets, +Inf equal to _count, and _sum",
          "[common][metrics]") {
  Registry r;
  Histogram& h = r.histogram("lanyard_d_seconds", "durations", {}, {0.001, 0.01, 0.1}).with();
  h.observe(0.0005);
  h.observe(0.001);  // le is "less than or equal"
  h.observe(0.05);
  h.observe(3);
  auto s = h.snapshot();
  CHECK(s.cumulative == std::vector<uint64_t>{2, 2, 3, 4});
  CHECK(s.count == 4);
  CHECK(s.sum == Approx(3.0515));
  const std::string text = r.exposition();
  CHECK(contains(text, "# TYPE lanyard_d_seconds histogram\n"));
  CHECK(contains(text,
                 "lanyard_d_seconds_bucket{le=\"0.001\"} 2\n"
                 "lanyard_d_seconds_bucket{le=\"0.01\"} 2\n"
                 "lanyard_d_seconds_bucket{le=\"0.1\"} 3\n"
                 "lanyard_d_seconds_bucket{le=\"+Inf\"} 4\n"
                 "lanyard_d_seconds_sum 3.0515\n"
                 "lanyard_d_seconds_count 4\n"));
}

TEST_CASE("histogram labels come before le", "[common][metrics]") {
  Registry r;
  r.histogram("lanyard_h", "h", {"rpc"}, {1}).with({"a"}).observe(0.5);
  const std::string text = r.exposition();
  CHECK(contains(text, "lanyard_h_bucket{rpc=\"a\",le=\"1\"} 1\n"));
  CHECK(contains(text, "lanyard_h_bucket{rpc=\"a\",le=\"+Inf\"} 1\n"));
  CHECK(contains(text, "lanyard_h_count{rpc=\"a\"} 1\n"));
}

TEST_CASE("label values and HELP texts are escaped as the text format asks", "[common][metrics]") {
  CHECK(escapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(escapeHelp("a\\b\"c\nd") == "a\\\\b\"c\\nd");
  Registry r;
  r.counter("lanyard_e_total", "line one\nline \\two", {"attestor"}).with({"we\"ird\n"}).inc();
  const std::string text = r.exposition();
  CHECK(contains(text, "# HELP lanyard_e_total line one\\nline \\\\two\n"));
  CHECK(contains(text, "lanyard_e_total{attestor=\"we\\\"ird\\n\"} 1\n"));
}

TEST_CASE("values are written as integers, shortest decimals, +Inf, -Inf and NaN",
          "[common][metrics]") {
  CHECK(formatValue(0) == "0");
  CHECK(formatValue(42) == "42");
  CHECK(formatValue(-3) == "-3");
  CHECK(formatValue(0.25) == "0.25");
  CHECK(std::stod(formatValue(1e-7)) == 1e-7);
  CHECK(std::stod(formatValue(1e20)) == 1e20);
  CHECK(formatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(formatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(formatValue(std::nan("")) == "NaN");
}

TEST_CASE("a computed gauge calls its function at every scrape, and may have no sample",
          "[common][metrics]") {
  Registry r;
  int calls = 0;
  double value = 5;
  bool present = true;
  r.callbackGauge("lanyard_ca_expiry_seconds", "until expiry", {}, [&]() -> std::vector<Sample> {
    ++calls;
    if (!present) {
      return {};
    }
    return {{{}, value}};
  });
  CHECK(contains(r.exposition(), "\nlanyard_ca_expiry_seconds 5\n"));
  value = 7;
  CHECK(contains(r.exposition(), "\nlanyard_ca_expiry_seconds 7\n"));
  present = false;
  CHECK(r.exposition() ==
        "# HELP lanyard_ca_expiry_seconds until expiry\n"
        "# TYPE lanyard_ca_expiry_seconds gauge\n");
  CHECK(calls == 3);
}

TEST_CASE("families are written in registration order", "[common][metrics]") {
  Registry r;
  r.gauge("lanyard_b", "b").with().set(1);
  r.counter("lanyard_a_total", "a").with().inc();
  const std::string text = r.exposition();
  CHECK(text.find("lanyard_b") < text.find("lanyard_a_total"));
}

TEST_CASE("counters and histograms updated from many threads lose nothing", "[common][metrics]") {
  Registry r;
  Counter& c = r.counter("lanyard_c_total", "c").with();
  Histogram& h = r.histogram("lanyard_h_seconds", "h", {}, {0.5}).with();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(i % 2 == 0 ? 0.1 : 1.0);
        if (i % 1000 == 0) {
          (void)r.exposition();  // scrapes run alongside
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(c.value() == 40000);
  auto s = h.snapshot();
  CHECK(s.count == 40000);
  CHECK(s.cumulative[0] == 20000);
  CHECK(s.sum == Approx(20000 * 0.1 + 20000 * 1.0));
}

}  // namespace
}  // namespace lanyard::metrics
