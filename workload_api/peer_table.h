// SPDX-License-Identifier: Apache-2.0
// PeerTable: what the kernel said about each accepted connection, found again from gRPC's
// peer string "fd:N" (DESIGN.md §1).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attestors/attestor.h"

namespace lanyard::workload_api {

/// An owned file descriptor (a pidfd), closed when the last holder lets go.
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd();
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

/// The last attestation of one connection's process, reused while the process keeps the same
/// stamp (credentials and executable) and for at most the cache's lifetime. Shared by the
/// connection's calls; mu guards the rest.
struct AttestationCache {
  std::mutex mu;
  std::optional<std::vector<attestors::Selector>> selectors;
  std::string stamp;
  std::chrono::steady_clock::time_point at;
};

/// One accepted connection. `pidfd` is shared so that an attestation in flight keeps it open
/// after the table forgets the connection.
struct Peer {
  pid_t pid = -1;
  uid_t uid = 0;
  gid_t gid = 0;
  std::shared_ptr<const OwnedFd> pidfd;  // null when pidfd_open failed
  uint64_t startTime = 0;                // of the process, at accept
  ino_t inode = 0;                       // of the connection's socket
  std::shared_ptr<AttestationCache> cache = std::make_shared<AttestationCache>();

  attestors::Caller caller() const {
    return {.pid = pid, .uid = uid, .gid = gid, .pidfd = pidfd ? pidfd->get() : -1};
  }
};

/// The fd N of gRPC's peer string "fd:N", or nullopt for any other form. gRPC 1.51 names a
/// channel added with AddInsecureChannelFromFd so (pinned by a test).
std::optional<int> fdFromPeerString(std::string_view peer);

/// Connections by descriptor. gRPC closes a descriptor without telling anyone, and the number
/// is then reused: entries carry the socket's inode, lookups check it, and sweep() drops
/// entries whose descriptor is closed or reused. Thread-safe.
class PeerTable {
 public:
  /// Records (or replaces) the connection on `fd`.
  void add(int fd, Peer peer);
  /// The connection on `fd`, when the descriptor still refers to the socket recorded.
  std::optional<Peer> find(int fd) const;
  /// Drops entries whose descriptor no longer refers to the recorded socket. Returns how many
  /// entries are left.
  size_t sweep();
  size_t size() const;

 private:
  mutable std::mutex mu_;  // guards peers_
  std::map<int, Peer> peers_;
};

}  // namespace lanyard::workload_api
