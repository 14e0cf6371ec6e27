// SPDX-License-Identifier: Apache-2.0
// workload_load's helpers: percentiles, fork/exec children and their /proc status, temp
// directories, the lanyardd config and per-connection channels.
#include "load_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace lanyard::bench {

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

Summary summarize(std::vector<double> samples) {
  Summary s;
  s.n = samples.size();
  if (samples.empty()) {
    return s;
  }
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<size_t>(i, 1, samples.size()) - 1];
  };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.max = samples.back();
  return s;
}

std::unique_ptr<Child> Child::spawn(const std::vector<std::string>& argv,
                                    const std::string& logPath) {
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const pid_t parent = ::getpid();
  const auto started = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("workload_load: fork");
    std::abort();
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    if (log >= 0) {
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  if (log >= 0) {
    ::close(log);
  }
  return std::unique_ptr<Child>(new Child(pid, started));
}

Child::~Child() { stop(); }

bool Child::alive() {
  if (reaped_) {
    return false;
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
  }
  return !reaped_;
}

void Child::stop() {
  if (reaped_) {
    return;
  }
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (alive()) {
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

namespace {

long statusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

}  // namespace

long Child::rssKiB() const { return statusField(pid_, "VmRSS"); }

long Child::threads() const { return statusField(pid_, "Threads"); }

TempDir::TempDir() {
  char name[] = "/tmp/lanyard-load.XXXXXX";
  if (::mkdtemp(name) == nullptr) {
    std::perror("workload_load: mkdtemp");
    std::abort();
  }
  path_ = name;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

long raiseFileLimit() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  return static_cast<long>(lim.rlim_cur);
}

std::string writeDaemonConfig(const std::string& dir, const std::string& dataDir,
                              const std::string& x509Ttl) {
  const std::string path = dir + "/lanyard.yaml";
  std::ofstream out(path);
  out << "trust_domain: example.org\n"
      << "socket_path: " << dir << "/agent.sock\n"
      << "data_dir: " << dataDir << "\n"
      << "log_level: warn\n"
      << "x509_svid_ttl: " << x509Ttl << "\n"
      << "health:\n  listen: 127.0.0.1:0\n"
      << "entries:\n"
      << "  - spiffe_id: spiffe://example.org/bench/load\n"
      << "    selectors: [unix:uid:" << ::getuid() << "]\n";
  return path;
}

bool waitConnectable(const std::string& socketPath, Clock::duration timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socketPath.c_str(), sizeof(addr.sun_path) - 1);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (ok) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(250));
  }
  return false;
}

std::shared_ptr<grpc::Channel> newConnection(const std::string& socketPath) {
  static std::atomic<int> counter{0};
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("lanyard.bench.connection", counter.fetch_add(1));
  // The bench never waits on reconnect backoff (startup polls the socket first).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10);
  return grpc::CreateCustomChannel("unix:" + socketPath, grpc::InsecureChannelCredentials(), args);
}

void addSecurityHeader(grpc::ClientContext& context) {
  context.AddMetadata("workload.spiffe.io", "true");
}

std::string tailOf(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

}  // namespace lanyard::bench
