// SPDX-License-Identifier: Apache-2.0
// Reading a process's container, Kubernetes pod and systemd unit from its /proc/<pid>/cgroup
// text: pure parsers shared by the container, systemd and Kubernetes attestors.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace lanyard::attestors::container {

/// One line of /proc/<pid>/cgroup: "hierarchy-ID:controller-list:cgroup-path". On cgroup v2
/// (and for the unified line of a hybrid host) the hierarchy is 0 and the controllers are empty;
/// on v1 they name the hierarchy ("cpu,cpuacct", "name=systemd").
struct CgroupLine {
  unsigned hierarchy = 0;
  std::string controllers;
  std::string path;  // starts with '/'

  friend bool operator==(const CgroupLine&, const CgroupLine&) = default;
};

/// What a process's cgroup paths say about it. Every field is empty when the paths say nothing
/// (a host process on a host that runs no containers).
struct CgroupIdentity {
  /// Who made the container, from the cgroup's name: "docker" (/docker/<id>,
  /// docker-<id>.scope), "podman" (libpod-<id>, libpod-<id>.scope), "containerd"
  /// (cri-containerd-<id>.scope, nerdctl-<id>.scope), "crio" (crio-<id>.scope, crio-<id>), or ""
  /// when the path does not say (a bare /<id> under a Kubernetes pod, as the cgroupfs driver of
  /// containerd and dockershim name it), or when there is no container.
  std::string runtime;
  /// The container's ID: 64 lower-case hex digits, or "" when the process is in no container.
  std::string containerId;
  /// The Kubernetes pod's UID with dashes (the systemd driver's underscores turned back into
  /// dashes), or "" when the process is in no pod. A pod's cgroup without a container below it
  /// gives a podUid and no containerId.
  std::string podUid;
  /// The Kubernetes QoS class from the path: "guaranteed", "burstable", "besteffort", or "" when
  /// not in a pod.
  std::string qosClass;
  /// The systemd unit the system manager puts the process in, as systemd itself derives it: the
  /// first path component that is not a slice ("nginx.service", "session-3.scope",
  /// "user@1000.service", "docker-<id>.scope"), or "" when that component is no unit name.
  std::string systemdUnit;
  /// Below a user manager ("user@1000.service"): the user unit, found the same way in the rest
  /// of the path ("app.service"); "" otherwise.
  std::string systemdUserUnit;
  /// The cgroup path the container or pod was read from ("" when none named one).
  std::string path;

  /// True when the process is in a container (containerId is set).
  bool inContainer() const { return !containerId.empty(); }

  friend bool operator==(const CgroupIdentity&, const CgroupIdentity&) = default;
};

/// At most this much of /proc/<pid>/cgroup is read or parsed (a real file is a few hundred
/// bytes; even deep nesting stays far below this).
inline constexpr size_t kMaxCgroupFileBytes = 64 * 1024;

/// Splits the text of /proc/<pid>/cgroup into lines. InvalidArgument, naming the line, for an
/// empty text, a text over kMaxCgroupFileBytes, a line without two ':' separators, a hierarchy ID
/// that is no decimal number, a path that does not start with '/', or a byte that is NUL or a
/// control character. A final newline is optional.
Result<std::vector<CgroupLine>> parseCgroupLines(std::string_view text);

/// What one cgroup path says (pure, never fails: a path that names nothing gives empty fields).
///
/// Only the outermost container counts: whatever sits below a container's cgroup was created
/// by that container when its cgroup was delegated to it (podman --systemd, cgroup namespaces
/// with a writable cgroupfs), so a nested "docker-<other id>.scope" or "/<id>" could name any
/// other container. A pod UID counts only above the container and below a "kubepods" component,
/// for the same reason. Nothing below a user's systemd manager ("user@1000.service") counts
/// either: systemd delegates that subtree to the user, who may name cgroups after any
/// container or pod, so rootless containers are not identified from their cgroups.
CgroupIdentity identityFromPath(std::string_view path);

/// What the text of /proc/<pid>/cgroup says about the process, merged over all its lines (on
/// v1 each controller has its own path; some may name the container and others not).
/// Container and pod come from whichever lines name them; two lines that name different
/// containers or pods fail with FailedPrecondition (never guess an identity). The systemd units
/// come from the "name=systemd" line when there is one (v1 and hybrid hosts), else from the
/// unified ("0::") line. Errors of parseCgroupLines pass through.
Result<CgroupIdentity> parseCgroupIdentity(std::string_view text);

/// Reads /proc/<pid>/cgroup (under `procRoot`, for tests) and returns its text, at most
/// kMaxCgroupFileBytes (more: InvalidArgument). NotFound when the process is gone,
/// PermissionDenied when it may not be read; messages name the file.
Result<std::string> readCgroupFile(pid_t pid, const std::string& procRoot = "/proc");

}  // namespace lanyard::attestors::container
