// SPDX-License-Identifier: Apache-2.0
// Test support for the systemd attestor's D-Bus tests: a private dbus-daemon in a temp dir and
// the stand-in for systemd (fake_systemd1.py) on it, both killed when the test ends.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/run.h"
#include "support/temp_dir.h"

namespace lanyard::testing {

/// A child process with its stdout on a pipe and stderr in a file. Killed (SIGTERM, then
/// SIGKILL after 3 s) by stop() or the destructor; PR_SET_PDEATHSIG kills it if the test dies.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& stderrPath) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      return;
    }
    std::vector<char*> cargv;
    for (const auto& a : argv) {
      cargv.push_back(const_cast<char*>(a.c_str()));
    }
    cargv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int err = ::open(stderrPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fds[1], 1);
      if (err >= 0) {
        ::dup2(err, 2);
      }
      ::execvp(cargv[0], cargv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~ChildProcess() {
    stop();
    if (out_ >= 0) {
      ::close(out_);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  /// The next line of its stdout, or "" when none came within `timeout`.
  std::string readLine(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (buffer_.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      pollfd p{out_, POLLIN, 0};
      if (out_ < 0 || left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return "";
      }
      char buf[512];
      ssize_t n = ::read(out_, buf, sizeof(buf));
      if (n <= 0) {
        return "";
      }
      buffer_.append(buf, static_cast<size_t>(n));
    }
    size_t nl = buffer_.find('\n');
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    return line;
  }

  void stop() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

/// A private dbus-daemon (session type, anything allowed) listening on dir/bus.
class PrivateBus {
 public:
  PrivateBus() : address_("unix:path=" + dir_.file("bus")) { start(); }

  /// Starts the daemon (again, after stop(): same address). False if it did not come up.
  bool start() {
    std::ofstream(dir_.file("bus.conf"))
        << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig>\n  <type>session</type>\n  <listen>"
        << address_
        << "</listen>\n  <auth>EXTERNAL</auth>\n"
           "  <policy context=\"default\">\n    <allow send_destination=\"*\"/>\n"
           "    <allow receive_sender=\"*\"/>\n    <allow own=\"*\"/>\n  </policy>\n</busconfig>\n";
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"dbus-daemon", "--config-file=" + dir_.file("bus.conf"),
                                 "--nofork", "--print-address"},
        dir_.file("dbus-daemon.log"));
    // It prints the address once it listens.
    return daemon_->readLine(std::chrono::seconds(10)).starts_with(address_);
  }
  void stop() { daemon_.reset(); }

  const std::string& address() const { return address_; }
  const TempDir& dir() const { return dir_; }

  /// What dbus-daemon and the stand-in wrote to stderr, for failure messages.
  std::string logs() const {
    std::string out;
    for (const char* name : {"dbus-daemon.log", "fake_systemd1.log"}) {
      std::ifstream in(dir_.file(name));
      std::stringstream text;
      text << in.rdbuf();
      out += std::string(name) + ":\n" + text.str();
    }
    return out;
  }

 private:
  TempDir dir_;
  std::string address_;
  std::unique_ptr<ChildProcess> daemon_;
};

/// The stand-in for systemd (tests/attestors/systemd/fake_systemd1.py) on `bus`, started with
/// `args` (see the script); records its Manager calls in calls().
class StandInSystemd {
 public:
  StandInSystemd(const PrivateBus& bus, std::vector<std::string> args)
      : callsPath_(bus.dir().file("calls-" + std::to_string(++count_))) {
    std::vector<std::string> argv = {
        python(),    sourceDir() + "/tests/attestors/systemd/fake_systemd1.py",
        "--address", bus.address(),
        "--calls",   callsPath_};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<ChildProcess>(argv, bus.dir().file("fake_systemd1.log"));
    ready_ = process_->readLine(std::chrono::seconds(10)) == "ready";
  }

  /// Whether it owns org.freedesktop.systemd1.
  bool ready() const { return ready_; }
  void stop() { process_.reset(); }

  /// Its Manager calls so far, "<method> <pid>" each.
  std::vector<std::string> calls() const {
    std::vector<std::string> out;
    std::ifstream in(callsPath_);
    for (std::string line; std::getline(in, line);) {
      out.push_back(line);
    }
    return out;
  }

 private:
  static inline int count_ = 0;
  std::string callsPath_;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
};

}  // namespace lanyard::testing
