// SPDX-License-Identifier: Apache-2.0
// SystemProcReader: the unix attestor's reads of /proc, passwd/group and pidfds, and the
// parsers for /proc/<pid>/status and /proc/<pid>/stat.
#include "attestors/unix/proc_reader.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace lanyard::attestors::unix_process {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

std::string procPath(pid_t pid, const char* leaf) {
  return "/proc/" + std::to_string(pid) + "/" + leaf;
}

// NotFound when the process is gone, PermissionDenied when the agent may not look; the
// attestor turns both into Unavailable with its own wording.
Error errnoError(const std::string& doing, int err) {
  std::string why = std::generic_category().message(err);
  if (!why.empty()) {
    why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  }
  Code code = Code::Internal;
  if (err == ENOENT || err == ESRCH) {
    code = Code::NotFound;
  } else if (err == EACCES || err == EPERM) {
    code = Code::PermissionDenied;
  }
  return Error{code, doing + ": " + why};
}

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// /proc files report size 0, so read until end of file rather than by size.
Result<std::string> readProcFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return fail(errnoError("reading " + path, errno));
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail(errnoError("reading " + path, errno));
    }
    if (n == 0) {
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

int64_t nanos(const timespec& ts) { return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec; }

FileIdentity identityOf(const struct stat& st) {
  return FileIdentity{st.st_dev, st.st_ino, nanos(st.st_mtim), nanos(st.st_ctim),
                      static_cast<uint64_t>(st.st_size)};
}

// The executable behind /proc/<pid>/exe, open for reading.
class FdExecutableFile final : public ExecutableFile {
 public:
  FdExecutableFile(int fd, FileIdentity identity, std::string path)
      : fd_(fd), identity_(identity), path_(std::move(path)) {}
  const FileIdentity& identity() const override { return identity_; }
  Result<size_t> read(std::span<unsigned char> out) override {
    for (;;) {
      ssize_t n = ::read(fd_.get(), out.data(), out.size());
      if (n >= 0) {
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) {
        return fail(errnoError("reading " + path_, errno));
      }
    }
  }

 private:
  Fd fd_;
  FileIdentity identity_;
  std::string path_;
};

// Splits `s` on runs of spaces and tabs.
std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = s.find_first_not_of(" \t", i);
    if (start == std::string_view::npos) {
      break;
    }
    size_t end = s.find_first_of(" \t", start);
    end = end == std::string_view::npos ? s.size() : end;
    out.push_back(s.substr(start, end - start));
    i = end;
  }
  return out;
}

template <typename T>
bool parseNumber(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Parses the ids of a "Uid:" or "Gid:" line (real, effective, saved, filesystem).
template <typename Id>
Result<std::pair<Id, Id>> parseIdLine(std::string_view key, std::string_view rest) {
  auto ids = fields(rest);
  Id real = 0;
  Id effective = 0;
  if (ids.size() < 2 || !parseNumber(ids[0], real) || !parseNumber(ids[1], effective)) {
    return fail(Code::InvalidArgument,
                "parsing process status: malformed " + std::string(key) + " line");
  }
  return std::pair<Id, Id>{real, effective};
}

Result<std::vector<gid_t>> parseGroups(std::string_view rest) {
  std::vector<gid_t> out;
  for (auto f : fields(rest)) {
    gid_t g = 0;
    if (!parseNumber(f, g)) {
      return fail(Code::InvalidArgument, "parsing process status: malformed Groups: line");
    }
    out.push_back(g);
  }
  return out;
}

}  // namespace

Result<ProcessStatus> parseProcStatus(std::string_view text) {
  ProcessStatus st;
  bool sawUid = false;
  bool sawGid = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view key = line.substr(0, colon + 1);
    std::string_view rest = line.substr(colon + 1);
    if (key == "Uid:") {
      LANYARD_TRY(auto uids, parseIdLine<uid_t>(key, rest));
      std::tie(st.realUid, st.effectiveUid) = uids;
      sawUid = true;
    } else if (key == "Gid:") {
      LANYARD_TRY(auto gids, parseIdLine<gid_t>(key, rest));
      std::tie(st.realGid, st.effectiveGid) = gids;
      sawGid = true;
    } else if (key == "Groups:") {
      LANYARD_TRY(st.supplementaryGids, parseGroups(rest));
    }
  }
  if (!sawUid || !sawGid) {
    return fail(Code::InvalidArgument, "parsing process status: no Uid: or Gid: line");
  }
  return st;
}

Result<uint64_t> parseProcStartTime(std::string_view text) {
  // "pid (comm) state ppid ...": comm may hold anything, even ") ", so the fields after it are
  // found from the last ')'. Field 3 (state) is then the first, so field 22 is index 19.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) {
    return fail(Code::InvalidArgument, "parsing process stat: no command name");
  }
  auto rest = fields(text.substr(close + 1));
  constexpr size_t kStartTimeIndex = 22 - 3;
  uint64_t start = 0;
  if (rest.size() <= kStartTimeIndex || !parseNumber(rest[kStartTimeIndex], start)) {
    return fail(Code::InvalidArgument, "parsing process stat: malformed starttime field");
  }
  return start;
}

Result<ProcessStatus> SystemProcReader::status(pid_t pid) const {
  const std::string path = procPath(pid, "status");
  LANYARD_TRY(std::string text, readProcFile(path));
  auto st = parseProcStatus(text);
  if (!st) {
    return fail(st.error().wrap("reading " + path));
  }
  return st;
}

Result<ExecutablePath> SystemProcReader::executablePath(pid_t pid) const {
  const std::string path = procPath(pid, "exe");
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) {
      return fail(errnoError("reading " + path, errno));
    }
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      break;
    }
    target.resize(target.size() * 2);  // possibly truncated: try again with more room
  }
  ExecutablePath out{std::move(target), false};
  // The kernel marks an unlinked executable with a suffix; a file may also really be named so,
  // which its link count tells apart.
  struct stat st {};
  if (out.path.ends_with(kDeletedSuffix) && ::stat(path.c_str(), &st) == 0 && st.st_nlink == 0) {
    out.path.resize(out.path.size() - kDeletedSuffix.size());
    out.deleted = true;
  }
  return out;
}

Result<std::unique_ptr<ExecutableFile>> SystemProcReader::openExecutable(pid_t pid) const {
  // Opening the magic link reaches the very file the process runs, even when unlinked,
  // replaced since or in another mount namespace (as SPIRE hashes the "namespaced" exe).
  const std::string path = procPath(pid, "exe");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(errnoError("opening " + path, errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return fail(errnoError("reading " + path, err));
  }
  return std::unique_ptr<ExecutableFile>(
      std::make_unique<FdExecutableFile>(fd, identityOf(st), path));
}

std::optional<std::string> SystemProcReader::userName(uid_t uid) const {
  std::vector<char> buf(1024);
  for (;;) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) {
      return std::nullopt;
    }
    return std::string(pw.pw_name);
  }
}

std::optional<std::string> SystemProcReader::groupName(gid_t gid) const {
  std::vector<char> buf(1024);
  for (;;) {
    struct group gr {};
    struct group* found = nullptr;
    int rc = ::getgrgid_r(gid, &gr, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) {
      return std::nullopt;
    }
    return std::string(gr.gr_name);
  }
}

Result<FileIdentity> ProcReader::executableIdentity(pid_t pid) const {
  return fail(Code::Unimplemented,
              "reading the executable of pid " + std::to_string(pid) + ": not supported");
}

Result<FileIdentity> SystemProcReader::executableIdentity(pid_t pid) const {
  const std::string path = procPath(pid, "exe");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(errnoError("reading " + path, errno));
  }
  return identityOf(st);
}

Result<uint64_t> SystemProcReader::startTime(pid_t pid) const {
  const std::string path = procPath(pid, "stat");
  LANYARD_TRY(std::string text, readProcFile(path));
  auto start = parseProcStartTime(text);
  if (!start) {
    return fail(start.error().wrap("reading " + path));
  }
  return start;
}

Result<void> SystemProcReader::confirmAlive(pid_t pid, int pidfd) const {
  const std::string doing = "checking pid " + std::to_string(pid) + " is still running";
  // Signal 0 checks existence and permission without delivering anything. EPERM still means
  // the process exists (the agent may not signal another user's process).
  long rc = -1;  // NOLINT(google-runtime-int): syscall() returns long
  if (pidfd >= 0) {
    // <sys/pidfd.h> lacks extern "C" on Debian 12, so call the system call directly.
    rc = ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0);
    if (rc != 0 && errno == ENOSYS) {
      rc = ::kill(pid, 0);  // kernel before 5.1: only the pid can be checked
    }
  } else {
    rc = ::kill(pid, 0);
  }
  if (rc == 0 || errno == EPERM) {
    return {};
  }
  return fail(errnoError(doing, errno));
}

}  // namespace lanyard::attestors::unix_process
