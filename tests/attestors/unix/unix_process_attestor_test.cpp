// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/unix/unix_process_attestor.cpp against a fake /proc, and once against the
// real one (the test process attests itself).
#include "attestors/unix/unix_process_attestor.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <thread>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"
#include "support/run.h"

namespace lanyard::attestors::unix_process {
namespace {

using std::chrono::milliseconds;

constexpr pid_t kPid = 123;
constexpr const char* kAbcSha256 =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// An in-memory executable; each read hands out at most `chunk` bytes after `delay`.
class FakeExecutable final : public ExecutableFile {
 public:
  FakeExecutable(FileIdentity id, std::string contents, size_t chunk, milliseconds delay)
      : id_(id), contents_(std::move(contents)), chunk_(chunk), delay_(delay) {}
  const FileIdentity& identity() const override { return id_; }
  Result<size_t> read(std::span<unsigned char> out) override {
    std::this_thread::sleep_for(delay_);
    size_t n = std::min({out.size(), chunk_, contents_.size() - pos_});
    std::copy_n(contents_.data() + pos_, n, out.data());
    pos_ += n;
    return n;
  }

 private:
  FileIdentity id_;
  std::string contents_;
  size_t chunk_;
  milliseconds delay_;
  size_t pos_ = 0;
};

// The fake /proc: one process, kPid, until `exists` is cleared.
class FakeProcReader final : public ProcReader {
 public:
  bool exists = true;
  ProcessStatus status_{1000, 1000, 100, 100, {100, 27, 4242}};
  ExecutablePath exe{"/usr/bin/billing", false};
  FileIdentity file{2049, 777, 1'700'000'000'000'000'000, 1'700'000'000'000'000'000, 3};
  std::string contents = "abc";
  size_t readChunk = 1 << 20;
  milliseconds readDelay{0};
  std::map<uid_t, std::string> users{{1000, "billing"}};
  std::map<gid_t, std::string> groups{{100, "users"}, {27, "sudo"}};
  std::optional<Error> exeError;  // returned by executablePath and openExecutable
  bool exitsBeforeCheck = false;  // confirmAlive reports the process gone
  bool pidReused = false;         // the second startTime differs from the first
  mutable int startTimeCalls = 0;
  mutable int lastPidfd = -2;

  Result<ProcessStatus> status(pid_t pid) const override {
    LANYARD_TRY_VOID(present(pid, "status"));
    return status_;
  }
  Result<ExecutablePath> executablePath(pid_t pid) const override {
    LANYARD_TRY_VOID(present(pid, "exe"));
    if (exeError) {
      return fail(*exeError);
    }
    return exe;
  }
  Result<std::unique_ptr<ExecutableFile>> openExecutable(pid_t pid) const override {
    LANYARD_TRY_VOID(present(pid, "exe"));
    if (exeError) {
      return fail(*exeError);
    }
    return std::unique_ptr<ExecutableFile>(
        std::make_unique<FakeExecutable>(file, contents, readChunk, readDelay));
  }
  std::optional<std::string> userName(uid_t uid) const override { return find(users, uid); }
  std::optional<std::string> groupName(gid_t gid) const override { return find(groups, gid); }
  Result<uint64_t> startTime(pid_t pid) const override {
    LANYARD_TRY_VOID(present(pid, "stat"));
    return uint64_t{5000} + (pidReused && startTimeCalls++ > 0 ? 1 : 0);
  }
  Result<void> confirmAlive(pid_t pid, int pidfd) const override {
    lastPidfd = pidfd;
    if (exitsBeforeCheck) {
      return fail(Code::NotFound, "checking pid " + std::to_string(pid) + ": no such process");
    }
    return present(pid, "stat");
  }

 private:
  Result<void> present(pid_t pid, const char* leaf) const {
    if (!exists || pid != kPid) {
      return fail(Code::NotFound, "reading /proc/" + std::to_string(pid) + "/" + leaf +
                                      ": no such file or directory");
    }
    return {};
  }
  template <typename K>
  static std::optional<std::string> find(const std::map<K, std::string>& m, K k) {
    auto it = m.find(k);
    return it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};

// An attestor over a fake that the test keeps a borrowed pointer to.
struct Fixture {
  explicit Fixture(UnixProcessConfig config = {}, size_t cacheEntries = 1024) {
    auto owned = std::make_unique<FakeProcReader>();
    fake = owned.get();
    attestor = std::make_unique<UnixProcessAttestor>(config, std::move(owned), cacheEntries);
  }
  Result<std::vector<Selector>> attest(Caller caller = {kPid, 1000, 100, 7}) {
    return attestor->attest(caller, std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }
  FakeProcReader* fake;  // owned by attestor
  std::unique_ptr<UnixProcessAttestor> attestor;
};

std::vector<std::string> values(const std::vector<Selector>& selectors) {
  std::vector<std::string> out;
  for (const auto& s : selectors) {
    CHECK(s.type == "unix");
    out.push_back(s.value);
  }
  return out;
}

bool has(const std::vector<Selector>& selectors, const std::string& value) {
  auto v = values(selectors);
  return std::find(v.begin(), v.end(), value) != v.end();
}

TEST_CASE("the unix attestor reports every selector spire's does", "[attestors][unix]") {
  Fixture f;
  auto got = f.attest();
  REQUIRE(got);
  CHECK(values(*got) == std::vector<std::string>{"uid:1000", "user:billing", "gid:100",
                                                 "group:users", "supplementary_gid:100",
                                                 "supplementary_group:users",
                                                 "supplementary_gid:27", "supplementary_group:sudo",
                                                 "supplementary_gid:4242", "path:/usr/bin/billing",
                                                 std::string("sha256:") + kAbcSha256});
  CHECK(f.fake->lastPidfd == 7);  // the caller's pidfd is what confirms the process
}

TEST_CASE("names that do not resolve are left out, numbers stay", "[attestors][unix]") {
  Fixture f;
  f.fake->users.clear();
  f.fake->groups.clear();
  auto got = f.attest();
  REQUIRE(got);
  CHECK(has(*got, "uid:1000"));
  CHECK(has(*got, "gid:100"));
  CHECK(has(*got, "supplementary_gid:4242"));
  for (const auto& v : values(*got)) {
    CHECK_FALSE(v.starts_with("user:"));
    CHECK_FALSE(v.starts_with("group:"));
    CHECK_FALSE(v.starts_with("supplementary_group:"));
  }
}

TEST_CASE("uid and gid come from the socket and must match /proc", "[attestors][unix]") {
  Fixture f;
  SECTION("uid differs") {
    auto got = f.attest({kPid, 0, 100, -1});
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK(got.error().message ==
          "attesting pid 123: process credentials differ from the socket's (socket uid 0 gid "
          "100, /proc uid 1000 gid 100): the pid was reused or the process changed identity");
  }
  SECTION("gid differs") {
    auto got = f.attest({kPid, 1000, 0, -1});
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
  }
  SECTION("the effective ids are the ones compared") {
    f.fake->status_.realUid = 0;
    f.fake->status_.realGid = 0;
    CHECK(f.attest());
  }
}

TEST_CASE("a process that is gone is unavailable", "[attestors][unix]") {
  Fixture f;
  SECTION("before attestation") { f.fake->exists = false; }
  SECTION("by the final check") { f.fake->exitsBeforeCheck = true; }
  SECTION("its pid reused meanwhile") { f.fake->pidReused = true; }
  auto got = f.attest();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::Unavailable);
  CHECK(got.error().message == "attesting pid 123: process exited");
}

TEST_CASE("a denied /proc read is unavailable with a hint", "[attestors][unix]") {
  Fixture f;
  f.fake->exeError = Error{Code::PermissionDenied, "reading /proc/123/exe: permission denied"};
  auto got = f.attest();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::Unavailable);
  CHECK_THAT(got.error().message,
             Catch::StartsWith("attesting pid 123: reading /proc/123/exe: permission denied ("));
  CHECK_THAT(got.error().message, Catch::Contains("CAP_SYS_PTRACE"));
}

TEST_CASE("the digest is cached by device, inode, times and size", "[attestors][unix]") {
  Fixture f;
  REQUIRE(f.attest());
  CHECK(f.attestor->hashes() == 1);
  SECTION("unchanged identity: no second read, even if the bytes differ") {
    f.fake->contents = "xyz";
    auto got = f.attest();
    REQUIRE(got);
    CHECK(has(*got, std::string("sha256:") + kAbcSha256));
    CHECK(f.attestor->hashes() == 1);
  }
  SECTION("a new mtime is read again") {
    f.fake->file.mtimeNs += 1;
    f.fake->file.ctimeNs += 1;
    f.fake->contents = "";
    auto got = f.attest();
    REQUIRE(got);
    CHECK(has(*got, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(f.attestor->hashes() == 2);
  }
  SECTION("a new ctime alone (mtime set back) is read again") {
    f.fake->file.ctimeNs += 1;
    REQUIRE(f.attest());
    CHECK(f.attestor->hashes() == 2);
  }
  SECTION("another inode is read again") {
    f.fake->file.ino += 1;
    REQUIRE(f.attest());
    CHECK(f.attestor->hashes() == 2);
  }
}

TEST_CASE("the digest cache forgets the least recently used file", "[attestors][unix]") {
  Fixture f({}, 2);
  auto attestInode = [&f](ino_t ino) {
    f.fake->file.ino = ino;
    REQUIRE(f.attest());
  };
  attestInode(1);
  attestInode(2);
  attestInode(1);  // hit; 2 is now the oldest
  attestInode(3);  // evicts 2
  CHECK(f.attestor->hashes() == 3);
  attestInode(1);
  CHECK(f.attestor->hashes() == 3);
  attestInode(2);
  CHECK(f.attestor->hashes() == 4);
}

TEST_CASE("an executable over the size limit fails attestation as in spire", "[attestors][unix]") {
  UnixProcessConfig config;
  config.workloadSizeLimit = 2;
  Fixture f(config);
  auto got = f.attest();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::FailedPrecondition);
  CHECK(got.error().message ==
        "attesting pid 123: executable is 3 bytes, over workload_size_limit 2");
  SECTION("at the limit it is hashed") {
    config.workloadSizeLimit = 3;
    CHECK(Fixture(config).attest());
  }
  SECTION("0 means no limit") {
    config.workloadSizeLimit = 0;
    CHECK(Fixture(config).attest());
  }
}

TEST_CASE("a file that grows while it is hashed is not trusted", "[attestors][unix]") {
  Fixture f;
  f.fake->file.size = 2;  // stat said 2 bytes, the read yields 3
  auto got = f.attest();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::Unavailable);
  CHECK_THAT(got.error().message, Catch::Contains("file grew while being read"));
  CHECK(f.attestor->hashes() == 0);
}

TEST_CASE("a deleted executable has a digest but no path", "[attestors][unix]") {
  Fixture f;
  f.fake->exe = ExecutablePath{"/usr/bin/billing", true};
  auto got = f.attest();
  REQUIRE(got);
  CHECK(has(*got, std::string("sha256:") + kAbcSha256));
  for (const auto& v : values(*got)) {
    CHECK_FALSE(v.starts_with("path:"));
  }
}

TEST_CASE("path and digest can each be turned off", "[attestors][unix]") {
  UnixProcessConfig config;
  config.discoverWorkloadPath = false;
  config.workloadHash = false;
  Fixture f(config);
  f.fake->exeError = Error{Code::PermissionDenied, "reading /proc/123/exe: permission denied"};
  auto got = f.attest();
  REQUIRE(got);
  CHECK(has(*got, "uid:1000"));
  for (const auto& v : values(*got)) {
    CHECK_FALSE(v.starts_with("path:"));
    CHECK_FALSE(v.starts_with("sha256:"));
  }
}

TEST_CASE("attestation stops at the deadline", "[attestors][unix]") {
  Fixture f;
  SECTION("already passed") {
    auto got = f.attestor->attest({kPid, 1000, 100, -1}, std::chrono::steady_clock::now());
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::DeadlineExceeded);
  }
  SECTION("passing while the executable is hashed") {
    f.fake->readChunk = 1;
    f.fake->readDelay = milliseconds(30);
    auto got = f.attestor->attest({kPid, 1000, 100, -1},
                                  std::chrono::steady_clock::now() + milliseconds(10));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::DeadlineExceeded);
    CHECK_THAT(got.error().message, Catch::StartsWith("attesting pid 123: hashing executable"));
    CHECK(f.attestor->hashes() == 0);
  }
}

TEST_CASE("the test process attests itself through the real /proc", "[attestors][unix][real]") {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  UnixProcessAttestor attestor({}, std::make_unique<SystemProcReader>());
  auto got = attestor.attest({::getpid(), ::geteuid(), ::getegid(), pidfd},
                             std::chrono::steady_clock::now() + std::chrono::seconds(30));
  if (pidfd >= 0) {
    ::close(pidfd);
  }
  REQUIRE(got);
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  auto sum = testing::run({"sha256sum", exe});
  REQUIRE(sum.exitCode == 0);
  const std::string hex = sum.output.substr(0, sum.output.find(' '));
  REQUIRE(hex.size() == 64);
  CHECK(has(*got, "uid:" + std::to_string(::geteuid())));
  CHECK(has(*got, "gid:" + std::to_string(::getegid())));
  CHECK(has(*got, "path:" + exe));
  CHECK(has(*got, "sha256:" + hex));
}

}  // namespace
}  // namespace lanyard::attestors::unix_process
