// SPDX-License-Identifier: Apache-2.0
// The embedded default configuration: what lanyardd serves without --config (DESIGN.md §6).
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "daemon/config.h"

namespace lanyard::daemon {
namespace {

// XDG base directories must be absolute; a relative value is ignored (XDG Base Directory spec).
std::string absoluteEnv(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] == '/' ? std::string(v) : std::string();
}

std::string passwdHome(uid_t uid) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr ||
      found->pw_dir == nullptr || found->pw_dir[0] != '/') {
    return {};
  }
  return found->pw_dir;
}

}  // namespace

UserDirs userDirsFromEnvironment(uid_t uid) {
  UserDirs d{.xdgDataHome = absoluteEnv("XDG_DATA_HOME"),
             .xdgRuntimeDir = absoluteEnv("XDG_RUNTIME_DIR"),
             .home = absoluteEnv("HOME")};
  if (d.home.empty()) {
    d.home = passwdHome(uid);
  }
  return d;
}

Config embeddedDefault(uid_t uid, const UserDirs& dirs) {
  const std::string id = std::to_string(uid);
  const std::string tmp = "/tmp/lanyard-" + id;
  Config c{.trustDomain = svid::TrustDomain::parseForConfig("example.org").value()};
  if (!dirs.xdgDataHome.empty()) {
    c.dataDir = dirs.xdgDataHome + "/lanyard";
  } else if (!dirs.home.empty()) {
    c.dataDir = dirs.home + "/.local/share/lanyard";
  } else {
    c.dataDir = tmp + "/data";
  }
  c.socketPath = dirs.xdgRuntimeDir + "/lanyard/agent.sock";
  // A runtime dir too long for sockaddr_un falls back as if it were unset.
  if (dirs.xdgRuntimeDir.empty() || c.socketPath.size() > kMaxSocketPathLength) {
    c.socketPath = tmp + "/agent.sock";
  }
  c.authority.trustDomain = c.trustDomain;
  c.authority.dataDir = c.dataDir;
  // A per-user agent takes a free port (logged at startup): a fixed one would clash between
  // users, or with a system agent on 127.0.0.1:8089.
  c.healthListen = "127.0.0.1:0";
  c.entries.push_back(
      RegistrationEntry{.spiffeIdTemplate = c.trustDomain.idString() + "/uid/" + id,
                        .selectors = {EntrySelector{.type = "unix", .value = "uid:" + id}}});
  return c;
}

Config embeddedDefault(uid_t uid) { return embeddedDefault(uid, userDirsFromEnvironment(uid)); }

}  // namespace lanyard::daemon
