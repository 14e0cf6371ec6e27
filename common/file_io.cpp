// SPDX-License-Identifier: Apache-2.0
// Atomic file writes and permission-checked reads (DESIGN.md §3: state on disk).
#include "common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

namespace lanyard::fileio {
namespace {

std::string errnoText(int err) { return std::strerror(err); }

Unexpected sysFail(std::string_view doing, const std::string& path, int err) {
  Code code = err == ENOENT                     ? Code::NotFound
              : (err == EACCES || err == EPERM) ? Code::PermissionDenied
                                                : Code::Internal;
  return fail(code, std::string(doing) + " " + path + ": " + errnoText(err));
}

std::string parentOf(const std::string& path) {
  auto p = std::filesystem::path(path).parent_path();
  return p.empty() ? "." : p.string();
}

Result<void> writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sysFail("writing", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

Result<void> writeAtomic(const std::string& path, std::string_view data, mode_t mode) {
  std::random_device rd;
  std::string tmp = path + ".tmp." + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return sysFail("creating", tmp, errno);
  }
  // open() honours the umask; the mode must be exact.
  Result<void> r =
      ::fchmod(fd, mode) == 0 ? Result<void>() : sysFail("setting mode of", tmp, errno);
  if (r) {
    r = writeAll(fd, data, tmp);
  }
  if (r && ::fsync(fd) != 0) {
    r = sysFail("syncing", tmp, errno);
  }
  if (::close(fd) != 0 && r) {
    r = sysFail("closing", tmp, errno);
  }
  if (r && ::rename(tmp.c_str(), path.c_str()) != 0) {
    r = sysFail("renaming " + tmp + " to", path, errno);
  }
  if (!r) {
    ::unlink(tmp.c_str());
    return r;
  }
  int dfd = ::open(parentOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: makes the rename durable
    ::close(dfd);
  }
  return {};
}

Result<std::string> read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return sysFail("opening", path, errno);
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      ::close(fd);
      return sysFail("reading", path, err);
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<std::string> readSecret(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return sysFail("checking", path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(Code::PermissionDenied, "checking " + path + ": not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(Code::PermissionDenied, "checking " + path + ": mode " + mode +
                                            " lets group or others read a secret (want 0600)");
  }
  return read(path);
}

Result<void> makeDirs(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::path p(path);
  std::filesystem::path cur;
  for (const auto& part : p) {
    cur /= part;
    if (std::filesystem::is_directory(cur, ec)) {
      continue;
    }
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return sysFail("creating directory", cur.string(), errno);
    }
  }
  return {};
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace lanyard::fileio
