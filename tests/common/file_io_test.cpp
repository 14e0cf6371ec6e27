// SPDX-License-Identifier: Apache-2.0
// Tests for common/file_io.cpp: atomic writes, exact modes, secret-file permission checks.
#include "common/file_io.h"

#include <sys/stat.h>

#include <filesystem>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

namespace lanyard::fileio {
namespace {

mode_t modeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("writeAtomic writes the exact bytes with the exact mode, whatever the umask",
          "[common][file_io]") {
  testing::TempDir dir;
  mode_t old = ::umask(077);
  REQUIRE(writeAtomic(dir.file("a"), std::string("x\0y", 3), 0644));
  ::umask(old);
  CHECK(modeOf(dir.file("a")) == 0644);
  CHECK(*read(dir.file("a")) == std::string("x\0y", 3));
  REQUIRE(writeAtomic(dir.file("k"), "secret", 0600));
  CHECK(modeOf(dir.file("k")) == 0600);
}

TEST_CASE("writeAtomic replaces a file whole and leaves no temp files", "[common][file_io]") {
  testing::TempDir dir;
  REQUIRE(writeAtomic(dir.file("a"), "old", 0600));
  REQUIRE(writeAtomic(dir.file("a"), "new contents", 0600));
  CHECK(*read(dir.file("a")) == "new contents");
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++n;
  }
  CHECK(n == 1);
}

TEST_CASE("writeAtomic into a missing directory fails and names the path", "[common][file_io]") {
  testing::TempDir dir;
  auto r = writeAtomic(dir.file("missing/a"), "x", 0600);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::NotFound);
  CHECK_THAT(r.error().message, Catch::Contains("missing/a"));
}

TEST_CASE("readSecret refuses files readable by group or others", "[common][file_io]") {
  testing::TempDir dir;
  REQUIRE(writeAtomic(dir.file("k"), "secret", 0600));
  CHECK(*readSecret(dir.file("k")) == "secret");
  REQUIRE(::chmod(dir.file("k").c_str(), 0604) == 0);
  auto r = readSecret(dir.file("k"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::PermissionDenied);
  CHECK_THAT(r.error().message, Catch::Contains("0604") && Catch::Contains(dir.file("k")));
  auto missing = readSecret(dir.file("nope"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::NotFound);
  auto directory = readSecret(dir.path());
  REQUIRE_FALSE(directory);
  CHECK_THAT(directory.error().message, Catch::Contains("not a regular file"));
}

TEST_CASE("makeDirs creates nested directories with the given mode", "[common][file_io]") {
  testing::TempDir dir;
  REQUIRE(makeDirs(dir.file("a/b/c"), 0700));
  CHECK(modeOf(dir.file("a/b/c")) == 0700);
  REQUIRE(makeDirs(dir.file("a/b/c"), 0700));  // idempotent
}

}  // namespace
}  // namespace lanyard::fileio
