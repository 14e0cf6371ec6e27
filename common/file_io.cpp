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

#include <openssl/crypto.h>

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

namespace {

// Reads the whole of `fd` and closes it. The stack buffer is wiped: it may have held a key.
Result<std::string> readAndClose(int fd, const std::string& path, size_t sizeHint) {
  std::string out;
  out.reserve(sizeHint);
  char buf[16384];
  Result<std::string> result = std::string();
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      result = sysFail("reading", path, errno);
      break;
    }
    if (n == 0) {
      result = std::move(out);
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  ::close(fd);
  return result;
}

}  // namespace

Result<std::string> read(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return sysFail("opening", path, errno);
  }
  return readAndClose(fd, path, 0);
}

Result<std::string> readSecret(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return sysFail("opening", path, errno);
  }
  // Check the file that was opened, not the path, so nothing can be swapped in between.
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return sysFail("checking", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(Code::PermissionDenied, "checking " + path + ": not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(Code::PermissionDenied, "checking " + path + ": mode " + mode +
                                            " lets group or others read a secret (want 0600)");
  }
  // Sized up front so the string never reallocates and leaves key bytes in freed memory.
  return readAndClose(fd, path, static_cast<size_t>(st.st_size) + 1);
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
