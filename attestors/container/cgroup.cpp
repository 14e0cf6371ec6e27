// SPDX-License-Identifier: Apache-2.0
// Parsers for /proc/<pid>/cgroup: container (Docker, podman, containerd, CRI-O), Kubernetes pod
// (cgroupfs and systemd kubelet drivers) and systemd unit, on cgroup v1, v2 and hybrid hosts.
#include "attestors/container/cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>

#include "common/text.h"

namespace lanyard::attestors::container {
namespace {

constexpr size_t kContainerIdLength = 64;

bool isLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool isContainerId(std::string_view s) { return s.size() == kContainerIdLength && isLowerHex(s); }

std::string_view stripSuffix(std::string_view s, std::string_view suffix) {
  return s.ends_with(suffix) ? s.substr(0, s.size() - suffix.size()) : s;
}

// The runtime's name for a "<prefix><id>[.scope]" cgroup ("docker-<id>.scope" and so on).
struct ScopePattern {
  std::string_view prefix;
  std::string_view runtime;
};
// "libpod-conmon-<id>" and "crio-conmon-<id>" hold the runtimes' monitor processes, which run
// outside the container: their remainder is no container ID, so they never match.
constexpr std::array<ScopePattern, 5> kScopePatterns = {{
    {"docker-", "docker"},
    {"libpod-", "podman"},
    {"cri-containerd-", "containerd"},
    {"nerdctl-", "containerd"},
    {"crio-", "crio"},
}};

// A Kubernetes pod UID as kubelet writes it into cgroup names: a UUID (36 characters with
// dashes) or, for static pods, 32 hex digits. `uid` already has underscores turned into dashes.
bool isPodUid(std::string_view uid) {
  if (uid.size() == 32) {
    return isLowerHex(uid);
  }
  if (uid.size() != 36) {
    return false;
  }
  for (size_t i = 0; i < uid.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (uid[i] == '-') || (!dash && !isLowerHex(uid.substr(i, 1)))) {
      return false;
    }
  }
  return true;
}

std::string restoreDashes(std::string_view uid) {
  std::string out(uid);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

// Scans a path's components from the root, tracking where it is in a kubepods tree.
class PathScanner {
 public:
  explicit PathScanner(std::string_view path) : path_(path) {}

  CgroupIdentity scan() {
    std::string_view previous;
    size_t pos = 0;
    while (pos < path_.size()) {
      size_t end = path_.find('/', pos);
      if (end == std::string_view::npos) {
        end = path_.size();
      }
      std::string_view component = path_.substr(pos, end - pos);
      pos = end + 1;
      if (component.empty()) {
        continue;
      }
      if (component.starts_with("user@") && component.ends_with(".service")) {
        break;  // a user's systemd manager: its subtree is delegated to that user
      }
      if (container(component, previous)) {
        break;  // the outermost container decides; below it the container names cgroups
      }
      kubernetes(component);
      previous = component;
    }
    if (!out_.containerId.empty() || !out_.podUid.empty()) {
      out_.path = std::string(path_);
    }
    return out_;
  }

 private:
  bool container(std::string_view component, std::string_view previous) {
    std::string_view name = stripSuffix(component, ".scope");
    for (const auto& pattern : kScopePatterns) {
      if (name.starts_with(pattern.prefix) && isContainerId(name.substr(pattern.prefix.size()))) {
        setContainer(pattern.runtime, name.substr(pattern.prefix.size()));
        return true;
      }
    }
    if (!isContainerId(component)) {
      return false;
    }
    // A bare ID: Docker's cgroupfs driver (/docker/<id>), or kubelet's cgroupfs driver under a
    // pod, whichever runtime made it. Elsewhere the runtime is unknown, but the component is
    // still a container boundary: nothing below it is trusted.
    setContainer(previous == "docker" && podUid_.empty() ? "docker" : "", component);
    return true;
  }

  void setContainer(std::string_view runtime, std::string_view id) {
    out_.runtime = std::string(runtime);
    out_.containerId = std::string(id);
    if (!podUid_.empty()) {
      out_.podUid = podUid_;
      out_.qosClass = qos_.empty() ? "guaranteed" : qos_;
    }
  }

  // cgroupfs driver: /kubepods/[burstable|besteffort/]pod<uid>/<id>
  // systemd driver:  /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/...
  void kubernetes(std::string_view component) {
    if (!inKubepods_) {
      inKubepods_ = component == "kubepods" || component == "kubepods.slice";
      return;
    }
    if (!podUid_.empty()) {
      return;  // only the first pod counts, as only the first container does
    }
    if (component == "burstable" || component == "besteffort") {
      qos_ = std::string(component);
      return;
    }
    if (component.starts_with("pod") && isPodUid(component.substr(3))) {
      setPod(component.substr(3));
      return;
    }
    if (!component.starts_with("kubepods-") || !component.ends_with(".slice")) {
      return;
    }
    std::string_view inner = stripSuffix(component.substr(9), ".slice");
    for (std::string_view qos : {"burstable", "besteffort"}) {
      if (inner == qos) {
        qos_ = std::string(qos);
        return;
      }
      if (inner.starts_with(qos) && inner.substr(qos.size()).starts_with("-")) {
        inner = inner.substr(qos.size() + 1);
        break;
      }
    }
    std::string uid = inner.starts_with("pod") ? restoreDashes(inner.substr(3)) : "";
    if (isPodUid(uid)) {
      setPod(uid);
    }
  }

  void setPod(std::string_view uid) {
    podUid_ = std::string(uid);
    out_.podUid = podUid_;
    out_.qosClass = qos_.empty() ? "guaranteed" : qos_;
  }

  std::string_view path_;
  CgroupIdentity out_;
  bool inKubepods_ = false;
  std::string podUid_;
  std::string qos_;
};

// Characters systemd allows in unit names (unit-name.c: VALID_CHARS plus '@').
bool isUnitName(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kSuffixes = {".service", ".scope", ".socket",
                                                                ".mount", ".swap"};
  bool suffixed = std::any_of(kSuffixes.begin(), kSuffixes.end(), [&](std::string_view s) {
    return name.size() > s.size() && name.ends_with(s);
  });
  return suffixed && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::strchr(":-_.\\@", c) != nullptr;
         });
}

// systemd's cg_path_get_unit(): skip slices, then the first component if it is a unit name.
// Sets `rest` to what follows that component.
std::string unitOf(std::string_view path, std::string_view& rest) {
  size_t pos = 0;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    std::string_view component = path.substr(pos, end - pos);
    pos = end + 1;
    if (component.empty() || component.ends_with(".slice")) {
      continue;
    }
    rest = pos < path.size() ? path.substr(pos) : std::string_view();
    return isUnitName(component) ? std::string(component) : std::string();
  }
  rest = {};
  return {};
}

void setSystemdUnits(std::string_view path, CgroupIdentity& out) {
  std::string_view rest;
  out.systemdUnit = unitOf(path, rest);
  if (out.systemdUnit.starts_with("user@") && out.systemdUnit.ends_with(".service")) {
    std::string_view ignored;
    out.systemdUserUnit = unitOf(rest, ignored);
  }
}

Error lineError(size_t number, std::string_view line, std::string_view what) {
  return Error{Code::InvalidArgument, "parsing cgroup line " + std::to_string(number) + " " +
                                          text::quote(line, 128) + ": " + std::string(what)};
}

Result<CgroupLine> parseLine(size_t number, std::string_view line) {
  size_t first = line.find(':');
  size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
  if (second == std::string_view::npos) {
    return fail(lineError(number, line, "want hierarchy-ID:controllers:path"));
  }
  CgroupLine out;
  std::string_view id = line.substr(0, first);
  auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), out.hierarchy);
  if (id.empty() || ec != std::errc() || ptr != id.data() + id.size()) {
    return fail(lineError(number, line, "hierarchy ID is not a number"));
  }
  out.controllers = std::string(line.substr(first + 1, second - first - 1));
  out.path = std::string(line.substr(second + 1));
  if (!out.path.starts_with("/")) {
    return fail(lineError(number, line, "path does not start with '/'"));
  }
  return out;
}

// The kernel prints each hierarchy once, each v1 controller in one hierarchy, and the unified
// hierarchy (0) last. A cgroup name may hold a newline, which the kernel does not escape, so a
// container with a delegated cgroup can append lines of its choosing: these checks make such
// text fail rather than add a controller, a systemd unit or a container.
Result<void> checkLineSet(const std::vector<CgroupLine>& lines) {
  std::set<unsigned> hierarchies;
  std::set<std::string, std::less<>> controllers;
  for (size_t i = 0; i < lines.size(); ++i) {
    const CgroupLine& line = lines[i];
    std::string where = "parsing cgroup line " + std::to_string(i + 1) + ": ";
    if (!hierarchies.insert(line.hierarchy).second) {
      return fail(Code::InvalidArgument,
                  where + "hierarchy " + std::to_string(line.hierarchy) + " listed twice");
    }
    if (line.hierarchy == 0 && (i + 1 != lines.size() || !line.controllers.empty())) {
      return fail(Code::InvalidArgument,
                  where + "the unified hierarchy (0) must come last and name no controllers");
    }
    std::string_view list = line.controllers;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view name = list.substr(0, comma);
      if (name.empty() || !controllers.emplace(name).second) {
        return fail(Code::InvalidArgument,
                    where + "controller " + text::quote(name) + " empty or listed twice");
      }
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  return {};
}

}  // namespace

Result<std::vector<CgroupLine>> parseCgroupLines(std::string_view text) {
  if (text.empty()) {
    return fail(Code::InvalidArgument, "parsing cgroup file: empty");
  }
  if (text.size() > kMaxCgroupFileBytes) {
    return fail(Code::InvalidArgument, "parsing cgroup file: longer than " +
                                           std::to_string(kMaxCgroupFileBytes) + " bytes");
  }
  if (text.ends_with('\n')) {
    text.remove_suffix(1);
  }
  std::vector<CgroupLine> lines;
  size_t pos = 0;
  for (size_t number = 1; pos <= text.size(); ++number) {
    size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    auto bad = std::find_if(line.begin(), line.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (bad != line.end()) {
      return fail(lineError(number, line, "control character " + text::describeByte(*bad)));
    }
    LANYARD_TRY(CgroupLine parsed, parseLine(number, line));
    lines.push_back(std::move(parsed));
  }
  LANYARD_TRY_VOID(checkLineSet(lines));
  return lines;
}

CgroupIdentity identityFromPath(std::string_view path) {
  CgroupIdentity out = PathScanner(path).scan();
  setSystemdUnits(path, out);
  return out;
}

Result<CgroupIdentity> parseCgroupIdentity(std::string_view text) {
  LANYARD_TRY(std::vector<CgroupLine> lines, parseCgroupLines(text));
  CgroupIdentity merged;
  const CgroupLine* named = nullptr;  // the first line that names a container or pod
  const CgroupLine* systemdLine = nullptr;
  for (const CgroupLine& line : lines) {
    if (line.controllers == "name=systemd" || (line.hierarchy == 0 && systemdLine == nullptr)) {
      systemdLine = &line;
    }
    CgroupIdentity got = PathScanner(line.path).scan();
    if (got.containerId.empty() && got.podUid.empty()) {
      continue;
    }
    if (named == nullptr) {
      named = &line;
      merged = std::move(got);
      continue;
    }
    // Every line that names something names the same thing: a container here and none there
    // is fine (v1 controllers the runtime did not use), two containers or pods are not.
    bool containerClash = !got.containerId.empty() && !merged.containerId.empty() &&
                          got.containerId != merged.containerId;
    if (containerClash || got.podUid != merged.podUid) {
      return fail(Code::FailedPrecondition, "reading cgroups: paths " + text::quote(named->path) +
                                                " and " + text::quote(line.path) +
                                                " name different containers or pods");
    }
    if (merged.containerId.empty() || (merged.runtime.empty() && !got.runtime.empty())) {
      merged = std::move(got);
    }
  }
  if (systemdLine != nullptr) {
    setSystemdUnits(systemdLine->path, merged);
  }
  return merged;
}

Result<std::string> readCgroupFile(pid_t pid, const std::string& procRoot) {
  const std::string path = procRoot + "/" + std::to_string(pid) + "/cgroup";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    Code code = err == ENOENT || err == ESRCH   ? Code::NotFound
                : err == EACCES || err == EPERM ? Code::PermissionDenied
                                                : Code::Unavailable;
    return fail(code, "reading " + path + ": " + std::strerror(err));
  }
  std::string out;
  std::array<char, 4096> buf{};
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      // A process that exits while its file is read makes read() fail with ESRCH/ENODEV.
      Code code = err == ESRCH || err == ENODEV ? Code::NotFound : Code::Unavailable;
      return fail(code, "reading " + path + ": " + std::strerror(err));
    }
    if (n == 0) {
      break;
    }
    out.append(buf.data(), static_cast<size_t>(n));
    if (out.size() > kMaxCgroupFileBytes) {
      ::close(fd);
      return fail(Code::InvalidArgument, "reading " + path + ": longer than " +
                                             std::to_string(kMaxCgroupFileBytes) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

}  // namespace lanyard::attestors::container
