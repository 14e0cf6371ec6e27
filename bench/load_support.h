// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the workload_load generator: percentiles, child processes with their RSS,
// temp directories, lanyardd configs and one-connection-per-channel gRPC channels.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

namespace lanyard::bench {

using Clock = std::chrono::steady_clock;

/// Microseconds in `d`, as a double.
double micros(Clock::duration d);

/// Percentiles of a set of samples (microseconds or any unit the caller chose).
struct Summary {
  size_t n = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

/// Nearest-rank p50/p99 and the maximum; all zero for no samples.
Summary summarize(std::vector<double> samples);

/// A child process started with fork/exec. Owned by the caller; stop() (or the destructor)
/// sends SIGTERM, then SIGKILL after two seconds, and reaps it. The child also gets SIGTERM
/// when this process dies (PR_SET_PDEATHSIG). Not thread-safe.
class Child {
 public:
  /// Starts `argv` (argv[0] is the path) with stdout and stderr appended to `logPath`.
  /// Aborts when fork fails. `started` is taken just before fork.
  static std::unique_ptr<Child> spawn(const std::vector<std::string>& argv,
                                      const std::string& logPath);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// SIGTERM, wait (SIGKILL after 2 s). Idempotent.
  void stop();
  /// True while the process has not exited (reaps it when it has).
  bool alive();
  pid_t pid() const { return pid_; }
  Clock::time_point started() const { return started_; }
  /// VmRSS in KiB from /proc/<pid>/status; -1 when unreadable.
  long rssKiB() const;
  /// Threads from /proc/<pid>/status; -1 when unreadable.
  long threads() const;

 private:
  Child(pid_t pid, Clock::time_point started) : pid_(pid), started_(started) {}
  pid_t pid_;
  Clock::time_point started_;
  bool reaped_ = false;
};

/// A directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
long raiseFileLimit();

/// Writes a lanyardd config in `dir` (socket dir/agent.sock, data_dir `dataDir`, one entry for
/// this process's uid) and returns its path.
std::string writeDaemonConfig(const std::string& dir, const std::string& dataDir,
                              const std::string& x509Ttl);

/// Polls connect() on the Unix socket every 250 µs until it succeeds or `timeout` passes.
bool waitConnectable(const std::string& socketPath, Clock::duration timeout);

/// A channel to `unix:socketPath` that gets its own connection: a local subchannel pool and a
/// unique dummy argument, so that no two channels share a subchannel.
std::shared_ptr<grpc::Channel> newConnection(const std::string& socketPath);

/// Adds the Workload API security header (WAPI-4) to a call.
void addSecurityHeader(grpc::ClientContext& context);

/// The last `bytes` bytes of a file, for error messages.
std::string tailOf(const std::string& path, size_t bytes = 2000);

}  // namespace lanyard::bench
