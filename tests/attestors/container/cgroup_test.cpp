// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/container/cgroup.cpp: real-world /proc/<pid>/cgroup text from Docker,
// podman, containerd, CRI-O and both kubelet cgroup drivers on v1, v2 and hybrid hosts, plus
// nested, spoofed and malformed text.
#include "attestors/container/cgroup.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/text.h"
#include "support/result_matchers.h"
#include "support/temp_dir.h"

namespace lanyard::attestors::container {
namespace {

const std::string kId = "3a8f1c0e2b4d6f8a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a";
const std::string kId2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kPod = "2c48913c-b29f-11e7-9350-020968147796";
const std::string kPodUnderscores = "2c48913c_b29f_11e7_9350_020968147796";
const std::string kStaticPod = "d41d8cd98f00b204e9800998ecf8427e";

// A v1 (or hybrid) file with every controller at `path`, and the unified line at `unified`.
std::string hybrid(const std::string& path, const std::string& unified = "/") {
  return "12:pids:" + path + "\n11:cpuset:" + path + "\n10:memory:" + path +
         "\n9:cpu,cpuacct:" + path + "\n8:devices:" + path + "\n1:name=systemd:" + path +
         "\n0::" + unified + "\n";
}

std::string v2(const std::string& path) { return "0::" + path + "\n"; }

struct Case {
  std::string name;
  std::string text;
  std::string runtime;
  std::string containerId;
  std::string podUid;
  std::string qos;
  std::string unit;
};

TEST_CASE("container, pod and unit are read from real cgroup files", "[attestors][cgroup]") {
  const std::vector<Case> cases = {
      // Docker
      {"docker cgroupfs v1", hybrid("/docker/" + kId), "docker", kId, "", "", ""},
      {"docker cgroupfs v2", v2("/docker/" + kId), "docker", kId, "", "", ""},
      {"docker systemd v2", v2("/system.slice/docker-" + kId + ".scope"), "docker", kId, "", "",
       "docker-" + kId + ".scope"},
      {"docker systemd hybrid", hybrid("/system.slice/docker-" + kId + ".scope"), "docker", kId, "",
       "", "docker-" + kId + ".scope"},
      {"docker on hybrid, unified line untouched", hybrid("/docker/" + kId, "/"), "docker", kId, "",
       "", ""},
      {"docker cgroupfs, v1 controllers only on some lines",
       "5:memory:/docker/" + kId + "\n4:devices:/\n1:name=systemd:/docker/" + kId + "\n0::/\n",
       "docker", kId, "", "", ""},
      {"docker container running systemd (nested units are the container's)",
       v2("/system.slice/docker-" + kId + ".scope/system.slice/sshd.service"), "docker", kId, "",
       "", "docker-" + kId + ".scope"},
      // podman
      {"podman systemd v2", v2("/machine.slice/libpod-" + kId + ".scope"), "podman", kId, "", "",
       "libpod-" + kId + ".scope"},
      {"podman with cgroupns subgroup", v2("/machine.slice/libpod-" + kId + ".scope/container"),
       "podman", kId, "", "", "libpod-" + kId + ".scope"},
      {"podman cgroupfs v1", hybrid("/libpod_parent/libpod-" + kId), "podman", kId, "", "", ""},
      {"podman pod",
       v2("/machine.slice/machine-libpod_pod_" + kId2 + ".slice/libpod-" + kId + ".scope"),
       "podman", kId, "", "", "libpod-" + kId + ".scope"},
      {"podman conmon is no container", v2("/machine.slice/libpod-conmon-" + kId + ".scope"), "",
       "", "", "", "libpod-conmon-" + kId + ".scope"},
      {"podman cgroupfs conmon", hybrid("/libpod_parent/conmon"), "", "", "", "", ""},
      // containerd
      {"containerd CRI systemd driver",
       v2("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUnderscores +
          ".slice/cri-containerd-" + kId + ".scope"),
       "containerd", kId, kPod, "burstable", "cri-containerd-" + kId + ".scope"},
      {"containerd CRI cgroupfs driver", hybrid("/kubepods/besteffort/pod" + kPod + "/" + kId), "",
       kId, kPod, "besteffort", ""},
      {"guaranteed pod, cgroupfs", v2("/kubepods/pod" + kPod + "/" + kId), "", kId, kPod,
       "guaranteed", ""},
      {"guaranteed pod, systemd",
       v2("/kubepods.slice/kubepods-pod" + kPodUnderscores + ".slice/cri-containerd-" + kId +
          ".scope"),
       "containerd", kId, kPod, "guaranteed", "cri-containerd-" + kId + ".scope"},
      {"static pod uid", v2("/kubepods/burstable/pod" + kStaticPod + "/" + kId), "", kId,
       kStaticPod, "burstable", ""},
      {"nerdctl", v2("/system.slice/nerdctl-" + kId + ".scope"), "containerd", kId, "", "",
       "nerdctl-" + kId + ".scope"},
      // CRI-O
      {"cri-o systemd",
       v2("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kPodUnderscores +
          ".slice/crio-" + kId + ".scope"),
       "crio", kId, kPod, "besteffort", "crio-" + kId + ".scope"},
      {"cri-o cgroupfs", hybrid("/kubepods/burstable/pod" + kPod + "/crio-" + kId), "crio", kId,
       kPod, "burstable", ""},
      {"cri-o conmon is no container",
       v2("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUnderscores +
          ".slice/crio-conmon-" + kId + ".scope"),
       "", "", kPod, "burstable", "crio-conmon-" + kId + ".scope"},
      {"docker under kubelet (systemd driver)",
       v2("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUnderscores +
          ".slice/docker-" + kId + ".scope"),
       "docker", kId, kPod, "burstable", "docker-" + kId + ".scope"},
      {"pod cgroup with no container", v2("/kubepods/burstable/pod" + kPod), "", "", kPod,
       "burstable", ""},
      // Nesting: the outermost container decides.
      {"docker in docker", v2("/docker/" + kId + "/docker/" + kId2), "docker", kId, "", "", ""},
      {"kind node (kubernetes in docker), v1 host",
       hybrid("/docker/" + kId + "/kubepods/pod" + kPod + "/" + kId2), "docker", kId, "", "", ""},
      {"a container naming a pod below itself",
       v2("/machine.slice/libpod-" + kId + ".scope/container/kubepods/pod" + kPod + "/" + kId2),
       "podman", kId, "", "", "libpod-" + kId + ".scope"},
      {"bare id outside docker and kubernetes", v2("/default/" + kId), "", kId, "", "", ""},
      // Not containers.
      {"host process", hybrid("/"), "", "", "", "", ""},
      {"system service", v2("/system.slice/nginx.service"), "", "", "", "", "nginx.service"},
      {"service sub-cgroup", v2("/system.slice/nginx.service/worker"), "", "", "", "",
       "nginx.service"},
      {"templated service", v2("/system.slice/system-getty.slice/getty@tty1.service"), "", "", "",
       "", "getty@tty1.service"},
      {"login session", v2("/user.slice/user-1000.slice/session-3.scope"), "", "", "", "",
       "session-3.scope"},
      {"init scope", v2("/init.scope"), "", "", "", "", "init.scope"},
      {"short hex is no id", v2("/docker/" + kId.substr(0, 63)), "", "", "", "", ""},
      {"upper-case hex is no id", v2("/docker/3A8F" + kId.substr(4)), "", "", "", "", ""},
      {"pod outside kubepods", v2("/foo/pod" + kPod + "/x"), "", "", "", "", ""},
      {"malformed pod uid", v2("/kubepods/burstable/pod2c48913c-b29f-11e7/" + kId), "", kId, "", "",
       ""},
      {"agent's own process api cgroup",
       "4:memory:/process_api/2fa3999cb6c0725ea3f0cb9e364e498f\n"
       "1:cpu:/\n0::/\n",
       "", "", "", "", ""},
      // Spoofing through a delegated user subtree: nothing below user@N.service counts.
      {"rootless podman",
       v2("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope"), "",
       "", "", "", "user@1000.service"},
      {"user naming a cgroup after a container",
       v2("/user.slice/user-1000.slice/user@1000.service/docker-" + kId + ".scope"), "", "", "", "",
       "user@1000.service"},
      {"user faking a pod",
       v2("/user.slice/user-1000.slice/user@1000.service/kubepods/pod" + kPod + "/" + kId), "", "",
       "", "", "user@1000.service"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      auto got = parseCgroupIdentity(c.text);
      REQUIRE(got);
      CHECK(got->runtime == c.runtime);
      CHECK(got->containerId == c.containerId);
      CHECK(got->inContainer() == !c.containerId.empty());
      CHECK(got->podUid == c.podUid);
      CHECK(got->qosClass == c.qos);
      CHECK(got->systemdUnit == c.unit);
    }
  }
}

TEST_CASE("a user manager's units are read from the cgroup path", "[attestors][cgroup]") {
  auto got = identityFromPath(
      "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-foo.slice/foo.service");
  CHECK(got.systemdUnit == "user@1000.service");
  CHECK(got.systemdUserUnit == "foo.service");
  CHECK(identityFromPath("/user.slice/user-1000.slice/user@1000.service/init.scope")
            .systemdUserUnit == "init.scope");
  CHECK(identityFromPath("/system.slice/nginx.service").systemdUserUnit.empty());
  CHECK(identityFromPath("/user.slice/user-1000.slice/user@1000.service").systemdUserUnit.empty());
}

TEST_CASE("the path a container was found on is reported", "[attestors][cgroup]") {
  auto got = parseCgroupIdentity(hybrid("/docker/" + kId, "/"));
  REQUIRE(got);
  CHECK(got->path == "/docker/" + kId);
  CHECK(parseCgroupIdentity(v2("/system.slice/nginx.service"))->path.empty());
}

TEST_CASE("the systemd line decides the unit on hybrid hosts", "[attestors][cgroup]") {
  auto got = parseCgroupIdentity(
      "3:cpu:/other.slice/x.service\n1:name=systemd:/system.slice/a.service\n"
      "0::/system.slice/b.service\n");
  REQUIRE(got);
  CHECK(got->systemdUnit == "a.service");
  got = parseCgroupIdentity("3:cpu:/system.slice/x.service\n0::/system.slice/b.service\n");
  REQUIRE(got);
  CHECK(got->systemdUnit == "b.service");
  got = parseCgroupIdentity("3:cpu:/system.slice/x.service\n");
  REQUIRE(got);
  CHECK(got->systemdUnit.empty());
}

TEST_CASE("lines that name different containers or pods fail", "[attestors][cgroup]") {
  auto two =
      parseCgroupIdentity("5:memory:/docker/" + kId + "\n4:cpu:/docker/" + kId2 + "\n0::/\n");
  REQUIRE_FALSE(two);
  CHECK(two.error().code == Code::FailedPrecondition);
  CHECK_THAT(two.error().message, Catch::Contains("name different containers or pods"));

  auto pods = parseCgroupIdentity("5:memory:/kubepods/pod" + kPod + "/" + kId +
                                  "\n4:cpu:/kubepods/pod" + kStaticPod + "/" + kId + "\n0::/\n");
  REQUIRE_FALSE(pods);
  CHECK(pods.error().code == Code::FailedPrecondition);

  // A container on one line and a pod without it on another is no single identity either.
  auto mixed =
      parseCgroupIdentity("5:memory:/docker/" + kId + "\n4:cpu:/kubepods/pod" + kPod + "\n0::/\n");
  REQUIRE_FALSE(mixed);
  CHECK(mixed.error().code == Code::FailedPrecondition);

  // The same container on every line, one naming the runtime and one not, is fine.
  auto same = parseCgroupIdentity("5:memory:/kubepods/pod" + kPod + "/" + kId +
                                  "\n4:cpu:/kubepods/pod" + kPod + "/crio-" + kId + "\n0::/\n");
  REQUIRE(same);
  CHECK(same->runtime == "crio");
  CHECK(same->containerId == kId);
}

TEST_CASE("malformed cgroup files are rejected with the line named", "[attestors][cgroup]") {
  struct Bad {
    std::string text;
    std::string message;
  };
  const std::vector<Bad> bad = {
      {"", "parsing cgroup file: empty"},
      {"\n", "parsing cgroup line 1 \"\": want hierarchy-ID:controllers:path"},
      {"0::/\n\n", "parsing cgroup line 2 \"\": want hierarchy-ID:controllers:path"},
      {"garbage", "parsing cgroup line 1 \"garbage\": want hierarchy-ID:controllers:path"},
      {"1:cpu", "parsing cgroup line 1 \"1:cpu\": want hierarchy-ID:controllers:path"},
      {"x:cpu:/", "parsing cgroup line 1 \"x:cpu:/\": hierarchy ID is not a number"},
      {":cpu:/", "parsing cgroup line 1 \":cpu:/\": hierarchy ID is not a number"},
      {"-1:cpu:/", "parsing cgroup line 1 \"-1:cpu:/\": hierarchy ID is not a number"},
      {"99999999999:cpu:/",
       "parsing cgroup line 1 \"99999999999:cpu:/\": hierarchy ID is not a "
       "number"},
      {"1:cpu:docker/x", "parsing cgroup line 1 \"1:cpu:docker/x\": path does not start with '/'"},
      {"1:cpu:/a\tb", "parsing cgroup line 1 \"1:cpu:/a\\x09b\": control character byte 0x09"},
      {std::string("1:cpu:/a\0b", 10),
       "parsing cgroup line 1 \"1:cpu:/a\\x00b\": control "
       "character byte 0x00"},
      {"2:cpu:/\n2:memory:/\n", "parsing cgroup line 2: hierarchy 2 listed twice"},
      {"2:cpu:/\n3:cpu:/\n", "parsing cgroup line 2: controller \"cpu\" empty or listed twice"},
      {"2:cpu,,memory:/\n", "parsing cgroup line 1: controller \"\" empty or listed twice"},
      {"0::/\n2:cpu:/\n",
       "parsing cgroup line 1: the unified hierarchy (0) must come last and name no controllers"},
      {"0:cpu:/\n",
       "parsing cgroup line 1: the unified hierarchy (0) must come last and name no controllers"},
      {std::string(kMaxCgroupFileBytes + 1, '/'), "parsing cgroup file: longer than 65536 bytes"},
  };
  for (const Bad& b : bad) {
    auto got = parseCgroupIdentity(b.text);
    INFO(text::quote(b.text, 80));
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::InvalidArgument);
    CHECK(got.error().message == b.message);
  }
}

TEST_CASE("lines injected through a newline in a cgroup name fail", "[attestors][cgroup]") {
  // A container with a delegated cgroup names a sub-cgroup "x\n1:name=systemd:/...": the kernel
  // prints the newline as it is, so the file gains a line the container wrote.
  auto unit = parseCgroupIdentity("0::/machine.slice/libpod-" + kId +
                                  ".scope/x\n1:name=systemd:/system.slice/sshd.service\n");
  REQUIRE_FALSE(unit);
  auto dup = parseCgroupIdentity("4:memory:/docker/" + kId + "/x\n1:name=systemd:/system.slice/a" +
                                 ".service\n1:name=systemd:/docker/" + kId + "\n0::/\n");
  REQUIRE_FALSE(dup);
  auto other = parseCgroupIdentity("4:memory:/docker/" + kId + "/x\n7:name=foo:/docker/" + kId2 +
                                   "\n0::/\n");
  REQUIRE_FALSE(other);
  CHECK(other.error().code == Code::FailedPrecondition);
}

TEST_CASE("cgroup lines keep colons in the path", "[attestors][cgroup]") {
  auto lines = parseCgroupLines("3:cpu,cpuacct:/a:b\n0::/\n");
  REQUIRE(lines);
  REQUIRE(lines->size() == 2);
  CHECK((*lines)[0] == CgroupLine{3, "cpu,cpuacct", "/a:b"});
  CHECK((*lines)[1] == CgroupLine{0, "", "/"});
}

TEST_CASE("this process's cgroup file is read and parsed", "[attestors][cgroup]") {
  auto text = readCgroupFile(getpid());
  REQUIRE(text);
  CHECK(parseCgroupIdentity(*text));
  auto gone = readCgroupFile(getpid(), "/nonexistent-proc");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == Code::NotFound);
  CHECK_THAT(gone.error().message, Catch::StartsWith("reading /nonexistent-proc/"));

  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("7"));
  {
    std::ofstream big(dir.file("7/cgroup"));
    big << std::string(kMaxCgroupFileBytes + 10, 'x');
  }
  auto tooBig = readCgroupFile(7, dir.path());
  REQUIRE_FALSE(tooBig);
  CHECK(tooBig.error().code == Code::InvalidArgument);
}

}  // namespace
}  // namespace lanyard::attestors::container
