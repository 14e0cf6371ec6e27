// SPDX-License-Identifier: Apache-2.0
// DigestCache: SHA-256 of executables, remembered by file identity so that a busy workload's
// binary is hashed once, not on every call.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "attestors/attestor.h"
#include "attestors/unix/proc_reader.h"
#include "common/result.h"

namespace lanyard::attestors::unix_process {

/// A bounded LRU map from FileIdentity (device, inode, mtime, ctime, size) to the hex SHA-256
/// of the file. Owned by the unix attestor; thread-safe (mu_), and hashing runs outside the
/// lock so that one large binary does not hold up other callers.
class DigestCache {
 public:
  static constexpr size_t kDefaultCapacity = 1024;

  explicit DigestCache(size_t capacity = kDefaultCapacity);

  /// The lower-case hex SHA-256 of `file`, from the cache when its identity was seen before,
  /// otherwise read in chunks (checking `deadline` between chunks: DeadlineExceeded) and then
  /// remembered. A file that yields more bytes than its identity's size changed while it was
  /// read: Unavailable, and nothing is cached.
  Result<std::string> digest(ExecutableFile& file, Deadline deadline);

  /// How many files were actually read and hashed (for tests and metrics).
  size_t hashes() const;

 private:
  struct IdentityHash {
    size_t operator()(const FileIdentity& id) const;
  };
  using Lru = std::list<std::pair<FileIdentity, std::string>>;  // most recent first

  std::optional<std::string> lookup(const FileIdentity& id);
  void store(const FileIdentity& id, const std::string& hex);

  const size_t capacity_;
  mutable std::mutex mu_;  // guards lru_, index_ and hashes_
  Lru lru_;
  std::unordered_map<FileIdentity, Lru::iterator, IdentityHash> index_;
  size_t hashes_ = 0;
};

/// Streams `file` through SHA-256 (OpenSSL EVP) and returns the lower-case hex digest.
/// Reads at most identity().size bytes' worth (more means the file changed: Unavailable) and
/// stops with DeadlineExceeded once `deadline` passes.
Result<std::string> sha256Hex(ExecutableFile& file, Deadline deadline);

}  // namespace lanyard::attestors::unix_process
