// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/unix/proc_reader.cpp: the /proc parsers on awkward input, and
// SystemProcReader on this process and on one that has exited.
#include "attestors/unix/proc_reader.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"

namespace lanyard::attestors::unix_process {
namespace {

constexpr const char* kStatus =
    "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n"
    "Uid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\nFDSize:\t256\n"
    "Groups:\t4 24 27 \nNStgid:\t4242\n";

TEST_CASE("process status yields real and effective ids and groups", "[attestors][proc]") {
  auto st = parseProcStatus(kStatus);
  REQUIRE(st);
  CHECK(st->realUid == 1000);
  CHECK(st->effectiveUid == 1001);
  CHECK(st->realGid == 100);
  CHECK(st->effectiveGid == 101);
  CHECK(st->supplementaryGids == std::vector<gid_t>{4, 24, 27});
}

TEST_CASE("process status with no supplementary groups parses", "[attestors][proc]") {
  auto st = parseProcStatus("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n");
  REQUIRE(st);
  CHECK(st->supplementaryGids.empty());
}

TEST_CASE("malformed process status is rejected", "[attestors][proc]") {
  CHECK(parseProcStatus("Gid:\t0\t0\t0\t0\n").error().message ==
        "parsing process status: no Uid: or Gid: line");
  CHECK(parseProcStatus("Uid:\tx\t0\nGid:\t0\t0\n").error().message ==
        "parsing process status: malformed Uid: line");
  CHECK(parseProcStatus("Uid:\t0\t0\nGid:\t0\t0\nGroups:\t1 -2\n").error().message ==
        "parsing process status: malformed Groups: line");
}

TEST_CASE("start time is found after the last parenthesis of the command name",
          "[attestors][proc]") {
  // Field 22 is 987654; the command name holds spaces and ") " to mislead a naive split.
  const std::string rest =
      " S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
  auto t = parseProcStartTime("4242 (evil) 1 2 3 (x)" + rest);
  REQUIRE(t);
  CHECK(*t == 987654);
  CHECK(*parseProcStartTime("7 (plain)" + rest) == 987654);
  CHECK_FALSE(parseProcStartTime("7 no parenthesis"));
  CHECK(parseProcStartTime("7 (short) S 1 2").error().message ==
        "parsing process stat: malformed starttime field");
}

TEST_CASE("the real reader sees this process as it is", "[attestors][proc][real]") {
  SystemProcReader reader;
  const pid_t self = ::getpid();
  auto st = reader.status(self);
  REQUIRE(st);
  CHECK(st->realUid == ::getuid());
  CHECK(st->effectiveUid == ::geteuid());
  CHECK(st->effectiveGid == ::getegid());

  auto exe = reader.executablePath(self);
  REQUIRE(exe);
  CHECK(exe->path == std::filesystem::read_symlink("/proc/self/exe").string());
  CHECK_FALSE(exe->deleted);

  auto file = reader.openExecutable(self);
  REQUIRE(file);
  struct stat sb {};
  REQUIRE(::stat(exe->path.c_str(), &sb) == 0);
  CHECK((*file)->identity().ino == sb.st_ino);
  CHECK((*file)->identity().size == static_cast<uint64_t>(sb.st_size));

  auto t1 = reader.startTime(self);
  auto t2 = reader.startTime(self);
  REQUIRE(t1);
  REQUIRE(t2);
  CHECK(*t1 == *t2);

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, self, 0));
  CHECK(reader.confirmAlive(self, pidfd));
  CHECK(reader.confirmAlive(self, -1));
  if (pidfd >= 0) {
    ::close(pidfd);
  }
  CHECK(reader.userName(0) == std::optional<std::string>("root"));
  CHECK(reader.groupName(0) == std::optional<std::string>("root"));
  CHECK_FALSE(reader.userName(4'000'000'000u));
}

TEST_CASE("the real reader reports a reaped process as not found", "[attestors][proc][real]") {
  pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);  // before any assertion: the child must not write to the TAP stream
  }
  REQUIRE(child > 0);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  SystemProcReader reader;
  if (pidfd >= 0) {
    auto alive = reader.confirmAlive(child, pidfd);
    REQUIRE_FALSE(alive);
    CHECK(alive.error().code == Code::NotFound);
    ::close(pidfd);
  }
  auto st = reader.status(child);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Code::NotFound);
  CHECK(st.error().message ==
        "reading /proc/" + std::to_string(child) + "/status: no such file or directory");
}

}  // namespace
}  // namespace lanyard::attestors::unix_process
