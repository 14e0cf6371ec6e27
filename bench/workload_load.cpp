// SPDX-License-Identifier: Apache-2.0
// workload_load: drives lanyardd over its Unix socket and prints each Workload API figure
// next to a bare gRPC floor measured in the same run, then writes them as JSON.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bare_server.h"
#include "latency_load.h"
#include "load_support.h"
#include "stream_load.h"

namespace lanyard::bench {
namespace {

struct Options {
  std::string daemonPath;
  std::string jsonPath;
  int rounds = 10;
  int calls = 300;
  int connections = 500;
  int rawConnections = 1000;
  int startups = 10;
  /// Scenario letters to run (a and b share their servers).
  std::string only = "abcd";
  StreamsOptions streams;
};

const char kUsage[] =
    "usage: workload_load [--daemon PATH] [--json PATH] [--rounds N] [--calls N]\n"
    "                     [--connections N] [--raw-connections N] [--streams N]\n"
    "                     [--channels N] [--ttl-seconds N] [--startups N] [--only abcd]\n"
    "Starts lanyardd (default: ../daemon/lanyardd next to this executable) and a bare gRPC\n"
    "server in child processes and measures (docs/benchmarks.md, \"Workload API\"):\n"
    "  (a) unary p50/p99 against the bare floor    (b) a new connection's first X.509 message\n"
    "  (c) rotation push to many streams, and RSS  (d) startup to serving\n"
    "Exits 2 when a target is missed.\n";

std::string selfPath() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

bool parse(int argc, char** argv, Options& o) {
  const std::string dir = std::filesystem::path(selfPath()).parent_path().string();
  o.daemonPath = dir + "/../daemon/lanyardd";
  o.jsonPath = dir + "/workload_load.json";
  o.streams.selfPath = selfPath();
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help" || i + 1 >= argc) {
      return false;
    }
    const std::string value = argv[++i];
    auto number = [&](int& out) { out = std::atoi(value.c_str()); };
    if (flag == "--daemon") {
      o.daemonPath = value;
    } else if (flag == "--json") {
      o.jsonPath = value;
    } else if (flag == "--rounds") {
      number(o.rounds);
    } else if (flag == "--calls") {
      number(o.calls);
    } else if (flag == "--connections") {
      number(o.connections);
    } else if (flag == "--raw-connections") {
      number(o.rawConnections);
    } else if (flag == "--startups") {
      number(o.startups);
    } else if (flag == "--streams") {
      number(o.streams.streams);
    } else if (flag == "--channels") {
      number(o.streams.channels);
    } else if (flag == "--only") {
      o.only = value;
    } else if (flag == "--ttl-seconds") {
      number(o.streams.ttlSeconds);
    } else {
      return false;
    }
  }
  o.daemonPath = std::filesystem::weakly_canonical(o.daemonPath).string();
  o.streams.daemonPath = o.daemonPath;
  return ::access(o.daemonPath.c_str(), X_OK) == 0;
}

// The results table and the JSON document, filled row by row.
class Report {
 public:
  void row(const std::string& key, const std::string& what, double value, const char* unit,
           const std::string& target = "", int met = -1) {
    char measured[64];
    std::snprintf(measured, sizeof(measured), value >= 100 ? "%.0f %s" : "%.3g %s", value, unit);
    std::printf("%-58s %14s  %-12s %s\n", what.c_str(), measured, target.c_str(),
                met < 0 ? "" : (met ? "met" : "MISSED"));
    json_["figures"][key] = {{"what", what}, {"value", value}, {"unit", unit}};
    if (met >= 0) {
      json_["figures"][key]["target"] = target;
      json_["figures"][key]["met"] = met == 1;
      missed_ = missed_ || met == 0;
    }
  }
  void section(const std::string& title) { std::printf("\n%s\n", title.c_str()); }
  void note(const std::string& key, const nlohmann::json& value) { json_[key] = value; }
  bool missed() const { return missed_; }
  const nlohmann::json& json() const { return json_; }

 private:
  nlohmann::json json_;
  bool missed_ = false;
};

bool startServers(const TempDir& dir, const Options& o, std::unique_ptr<Child>& bare,
                  std::unique_ptr<Child>& daemon) {
  const std::string config = writeDaemonConfig(dir.path(), dir.path() + "/data", "1h");
  bare = Child::spawn({selfPath(), "--bare-server", dir.path() + "/bare.sock"},
                      dir.path() + "/bare.log");
  daemon = Child::spawn({o.daemonPath, "--config", config}, dir.path() + "/lanyardd.log");
  if (!waitConnectable(dir.path() + "/bare.sock", std::chrono::seconds(10)) ||
      !waitConnectable(dir.path() + "/agent.sock", std::chrono::seconds(10))) {
    std::fprintf(stderr, "workload_load: a server did not start:\n%s\n%s\n",
                 tailOf(dir.path() + "/bare.log").c_str(),
                 tailOf(dir.path() + "/lanyardd.log").c_str());
    return false;
  }
  return true;
}

void reportErrors(Report& report, const std::string& key, int errors, const std::string& last) {
  if (errors > 0) {
    std::printf("  %d failed calls; last: %s\n", errors, last.c_str());
    report.note(key + "_errors", {{"count", errors}, {"last", last}});
  }
}

void unaryScenario(const Options& o, Report& report, const std::string& bareSocket,
                   const std::string& daemonSocket);
void connectScenario(const Options& o, Report& report, const std::string& bareSocket,
                     const std::string& daemonSocket);

bool latencyScenarios(const Options& o, Report& report) {
  TempDir dir;
  std::unique_ptr<Child> bare, daemon;
  if (!startServers(dir, o, bare, daemon)) {
    return false;
  }
  const std::string bareSocket = dir.path() + "/bare.sock";
  const std::string daemonSocket = dir.path() + "/agent.sock";
  if (o.only.find('a') != std::string::npos) {
    unaryScenario(o, report, bareSocket, daemonSocket);
  }
  if (o.only.find('b') != std::string::npos) {
    connectScenario(o, report, bareSocket, daemonSocket);
  }
  return true;
}

void unaryScenario(const Options& o, Report& report, const std::string& bareSocket,
                   const std::string& daemonSocket) {
  std::fprintf(stderr, "(a) unary calls...\n");
  UnaryResult u = measureUnary(bareSocket, daemonSocket, o.rounds, o.calls);
  report.section("(a) unary calls, one connection each, sync client (" + std::to_string(u.floor.n) +
                 " calls of each, interleaved)");
  report.row("floor_unary_p50_us", "floor: bare callback server, unary, p50", u.floor.p50, "us");
  report.row("floor_unary_p99_us", "floor: bare callback server, unary, p99", u.floor.p99, "us");
  for (auto [key, name, s] : {std::tuple{"fetch_jwt", "FetchJWTSVID (cached)", u.fetchJwt},
                              std::tuple{"validate_jwt", "ValidateJWTSVID", u.validateJwt}}) {
    report.row(std::string(key) + "_p50_us", std::string(name) + ", p50", s.p50, "us");
    report.row(std::string(key) + "_p99_us", std::string(name) + ", p99", s.p99, "us");
    const double ratio = s.p50 / u.floor.p50;
    report.row(std::string(key) + "_p50_ratio", std::string(name) + ", p50 / floor p50", ratio, "x",
               "<= 2x", ratio <= 2.0);
  }
  reportErrors(report, "unary", u.errors, u.lastError);
}

void connectScenario(const Options& o, Report& report, const std::string& bareSocket,
                     const std::string& daemonSocket) {
  std::fprintf(stderr, "(b) new connections, gRPC C++ client...\n");
  ConnectResult c = measureNewConnections(bareSocket, daemonSocket, o.connections);
  report.section("(b) new connection to first message, gRPC C++ client (" +
                 std::to_string(c.workload.n) + " connections each, alternating; X.509 response " +
                 std::to_string(c.x509Bytes) + " bytes)");
  report.row("floor_connect_p50_us", "floor: bare server, gRPC client, first message, p50",
             c.floor.p50, "us");
  report.row("floor_connect_p99_us", "floor: bare server, gRPC client, first message, p99",
             c.floor.p99, "us");
  report.row("floor_connected_p50_us", "floor: bare server, gRPC client, connected, p50",
             c.floorConnected.p50, "us");
  report.row("connected_p50_us", "lanyardd, gRPC client, connected (no call), p50",
             c.workloadConnected.p50, "us");
  report.row("connect_x509_p50_us", "FetchX509SVID, gRPC client, first message, p50",
             c.workload.p50, "us");
  report.row("connect_x509_p99_us", "FetchX509SVID, gRPC client, first message, p99",
             c.workload.p99, "us");
  report.row("connect_x509_p50_ratio", "FetchX509SVID gRPC client p50 / floor p50",
             c.workload.p50 / c.floor.p50, "x");
  reportErrors(report, "connect", c.errors, c.lastError);

  // The target is judged here: without the gRPC C++ client's channel creation, this is the
  // server's accept, HTTP/2 setup, attestation and cached SVID (docs/benchmarks.md).
  std::fprintf(stderr, "(b) new connections, raw HTTP/2 client...\n");
  RawConnectResult r =
      measureRawConnections(bareSocket, daemonSocket, o.rawConnections, c.x509Bytes);
  report.section("(b) new connection to first message, raw HTTP/2 client from connect() (" +
                 std::to_string(r.workload.n) + " connections each, alternating)");
  report.row("raw_floor_connect_p50_us", "floor: bare server, raw client, first message, p50",
             r.floor.p50, "us");
  report.row("raw_floor_connect_p99_us", "floor: bare server, raw client, first message, p99",
             r.floor.p99, "us");
  report.row("raw_connect_x509_p50_us", "FetchX509SVID, raw client, first message, p50",
             r.workload.p50, "us");
  report.row("raw_connect_x509_p99_us", "FetchX509SVID, raw client, first message, p99",
             r.workload.p99, "us", "<= 2000 us", r.workload.n > 0 && r.workload.p99 <= 2000);
  report.row("raw_connect_x509_p50_ratio", "FetchX509SVID raw client p50 / floor p50",
             r.workload.p50 / r.floor.p50, "x");
  report.row("raw_connect_x509_p99_ratio", "FetchX509SVID raw client p99 / floor p99",
             r.workload.p99 / r.floor.p99, "x");
  reportErrors(report, "raw_connect", r.errors, r.lastError);
}

void streamScenario(const Options& o, Report& report) {
  std::fprintf(stderr, "(c) %d streams on %d connections, x509_svid_ttl %ds...\n",
               o.streams.streams, o.streams.channels, o.streams.ttlSeconds);
  StreamsResult s = measureStreams(o.streams);
  report.section("(c) " + std::to_string(o.streams.streams) + " FetchX509SVID streams on " +
                 std::to_string(o.streams.channels) + " connections (callback client), ttl " +
                 std::to_string(o.streams.ttlSeconds) + "s, " + std::to_string(s.messageBytes) +
                 "-byte messages");
  report.row("streams_opened", "lanyardd streams with a first message", s.opened, "", "all",
             s.opened == o.streams.streams);
  report.row("streams_open_ms", "lanyardd: open to last first message", s.openLastMs, "ms");
  report.row("floor_streams_open_ms", "floor: open to last first message", s.bareOpenLastMs, "ms");
  report.row(
      "rotation_received",
      "streams that got the rotated SVID (of " + std::to_string(s.eligible) + " open before it)",
      s.rotated, "", "all", s.eligible > 0 && s.rotated == s.eligible);
  report.row("rotation_first_ms", "rotation push: first stream, from open", s.rotationFirstMs,
             "ms");
  const double spread = s.rotationLastMs - s.rotationFirstMs;
  report.row("rotation_spread_ms", "rotation push: first to last stream", spread, "ms",
             "<= 1000 ms", s.rotated > 0 && spread <= 1000);
  const double mib = 1024.0;
  report.row("daemon_idle_rss_mib", "lanyardd RSS idle (after startup)", s.daemonIdleKiB / mib,
             "MiB", "<= 20 MiB", s.daemonIdleKiB > 0 && s.daemonIdleKiB <= 20 * 1024);
  report.row("daemon_streams_rss_mib", "lanyardd RSS with the streams open",
             s.daemonStreamsKiB / mib, "MiB");
  report.row("daemon_rotated_rss_mib", "lanyardd RSS after the rotation push",
             s.daemonRotatedKiB / mib, "MiB");
  report.row("floor_idle_rss_mib", "floor: bare server RSS idle", s.bareIdleKiB / mib, "MiB");
  report.row("floor_streams_rss_mib", "floor: bare server RSS with the streams open",
             s.bareStreamsKiB / mib, "MiB");
  const double ratio = static_cast<double>(s.daemonStreamsKiB) / s.bareStreamsKiB;
  report.row("streams_rss_ratio", "lanyardd / floor RSS, streams open", ratio, "x", "<= 1.5x",
             s.bareStreamsKiB > 0 && ratio <= 1.5);
  report.row("daemon_threads_idle", "lanyardd threads idle", s.daemonThreadsIdle, "");
  report.row("daemon_threads_streams", "lanyardd threads, streams open", s.daemonThreadsStreams,
             "");
  report.row("floor_threads_streams", "floor: bare server threads, streams open",
             s.bareThreadsStreams, "");
  reportErrors(report, "streams", s.failed, s.lastError);
}

void startupScenario(const Options& o, Report& report) {
  std::fprintf(stderr, "(d) %d startups of each kind...\n", o.startups);
  StartupResult r = measureStartup(o.daemonPath, o.startups);
  report.section("(d) fork/exec of lanyardd to the first FetchX509SVID message (" +
                 std::to_string(r.existing.n) + " starts of each kind, alternating)");
  for (auto [key, name, s, accept] :
       {std::tuple{"existing", "existing data_dir", r.existing, r.existingConnectable},
        std::tuple{"fresh", "fresh data_dir", r.fresh, r.freshConnectable}}) {
    report.row(std::string("startup_") + key + "_accept_p50_ms",
               std::string("startup, ") + name + ", socket accepts, p50", accept.p50, "ms");
    report.row(std::string("startup_") + key + "_p50_ms",
               std::string("startup, ") + name + ", first message, p50", s.p50, "ms");
    report.row(std::string("startup_") + key + "_max_ms",
               std::string("startup, ") + name + ", first message, max", s.max, "ms", "<= 200 ms",
               s.n > 0 && s.max <= 200);
  }
  reportErrors(report, "startup", r.failures, r.lastError);
}

}  // namespace
}  // namespace lanyard::bench

int main(int argc, char** argv) {
  using namespace lanyard::bench;
  if (argc == 3 && std::string(argv[1]) == "--bare-server") {
    return runBareServer(argv[2]);
  }
  Options o;
  if (!parse(argc, argv, o)) {
    std::fputs(kUsage, stderr);
    std::fprintf(stderr, "lanyardd: %s\n", o.daemonPath.c_str());
    return 1;
  }
  const long files = raiseFileLimit();
  Report report;
  std::string command;
  for (int i = 0; i < argc; ++i) {
    command += (i ? " " : "") + std::string(argv[i]);
  }
  report.note("command", command);
  report.note("daemon", o.daemonPath);
  report.note("hardware_concurrency", std::thread::hardware_concurrency());
  report.note("rlimit_nofile", files);
  std::printf("workload_load: lanyardd %s, %u cores\n", o.daemonPath.c_str(),
              std::thread::hardware_concurrency());
  auto wanted = [&](char scenario) { return o.only.find(scenario) != std::string::npos; };
  if ((wanted('a') || wanted('b')) && !latencyScenarios(o, report)) {
    return 1;
  }
  if (wanted('c')) {
    streamScenario(o, report);
  }
  if (wanted('d')) {
    startupScenario(o, report);
  }
  std::ofstream(o.jsonPath) << report.json().dump(2) << "\n";
  std::printf("\nJSON: %s\n", o.jsonPath.c_str());
  return report.missed() ? 2 : 0;
}
