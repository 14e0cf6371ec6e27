// SPDX-License-Identifier: Apache-2.0
// PeerTable: accepted connections by descriptor, checked against the socket's inode.
#include "workload_api/peer_table.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

namespace lanyard::workload_api {
namespace {

// True when `fd` is open and is the socket with inode `inode`.
bool sameSocket(int fd, ino_t inode) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == inode;
}

}  // namespace

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::optional<int> fdFromPeerString(std::string_view peer) {
  constexpr std::string_view kPrefix = "fd:";
  if (!peer.starts_with(kPrefix)) {
    return std::nullopt;
  }
  peer.remove_prefix(kPrefix.size());
  int fd = -1;
  auto [end, ec] = std::from_chars(peer.data(), peer.data() + peer.size(), fd);
  if (ec != std::errc() || end != peer.data() + peer.size() || fd < 0 || peer.empty()) {
    return std::nullopt;
  }
  return fd;
}

void PeerTable::add(int fd, Peer peer) {
  std::lock_guard lock(mu_);
  peers_.insert_or_assign(fd, std::move(peer));
}

std::optional<Peer> PeerTable::find(int fd) const {
  std::lock_guard lock(mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end() || !sameSocket(fd, it->second.inode)) {
    return std::nullopt;
  }
  return it->second;
}

size_t PeerTable::sweep() {
  std::lock_guard lock(mu_);
  std::erase_if(peers_, [](const auto& kv) { return !sameSocket(kv.first, kv.second.inode); });
  return peers_.size();
}

size_t PeerTable::size() const {
  std::lock_guard lock(mu_);
  return peers_.size();
}

}  // namespace lanyard::workload_api
