// SPDX-License-Identifier: Apache-2.0
// Streaming SHA-256 of an open executable and the LRU cache in front of it.
#include "attestors/unix/digest_cache.h"

#include <array>
#include <functional>
#include <vector>

#include <openssl/evp.h>

#include "common/openssl.h"

namespace lanyard::attestors::unix_process {
namespace {

constexpr size_t kChunkBytes = 256 * 1024;

std::string toHex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

Result<std::string> sha256Hex(ExecutableFile& file, Deadline deadline) {
  ossl::UniquePtr<EVP_MD> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  ossl::UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (md == nullptr || ctx == nullptr || EVP_DigestInit_ex2(ctx.get(), md.get(), nullptr) != 1) {
    return ossl::fail("hashing executable: starting SHA-256");
  }
  const uint64_t expected = file.identity().size;
  std::vector<unsigned char> buf(kChunkBytes);
  uint64_t total = 0;
  for (;;) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(Code::DeadlineExceeded, "hashing executable: deadline passed after " +
                                              std::to_string(total) + " of " +
                                              std::to_string(expected) + " bytes");
    }
    LANYARD_TRY(size_t n, file.read(buf));
    if (n == 0) {
      break;
    }
    total += n;
    if (total > expected) {
      // Executables being run cannot be written (ETXTBSY), but the size check is what keeps a
      // growing file from running past the size limit checked before.
      return fail(Code::Unavailable, "hashing executable: file grew while being read");
    }
    if (EVP_DigestUpdate(ctx.get(), buf.data(), n) != 1) {
      return ossl::fail("hashing executable");
    }
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int outLen = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &outLen) != 1) {
    return ossl::fail("hashing executable: finishing SHA-256");
  }
  return toHex(out.data(), outLen);
}

DigestCache::DigestCache(size_t capacity) : capacity_(capacity) {
  LANYARD_ASSERT(capacity_ > 0, "a digest cache holds at least one entry");
}

size_t DigestCache::IdentityHash::operator()(const FileIdentity& id) const {
  size_t h = std::hash<uint64_t>()(static_cast<uint64_t>(id.ino));
  auto mix = [&h](uint64_t v) {
    h ^= std::hash<uint64_t>()(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  };
  mix(static_cast<uint64_t>(id.dev));
  mix(static_cast<uint64_t>(id.mtimeNs));
  mix(static_cast<uint64_t>(id.ctimeNs));
  mix(id.size);
  return h;
}

Result<std::string> DigestCache::digest(ExecutableFile& file, Deadline deadline) {
  const FileIdentity id = file.identity();
  if (auto hit = lookup(id)) {
    return *hit;
  }
  // Two callers that miss at once both hash; that costs time, never correctness.
  LANYARD_TRY(std::string hex, sha256Hex(file, deadline));
  store(id, hex);
  return hex;
}

size_t DigestCache::hashes() const {
  std::lock_guard lock(mu_);
  return hashes_;
}

std::optional<std::string> DigestCache::lookup(const FileIdentity& id) {
  std::lock_guard lock(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) {
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);  // now the most recent
  return it->second->second;
}

void DigestCache::store(const FileIdentity& id, const std::string& hex) {
  std::lock_guard lock(mu_);
  ++hashes_;
  if (auto it = index_.find(id); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(id, hex);
  index_.emplace(id, lru_.begin());
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

}  // namespace lanyard::attestors::unix_process
