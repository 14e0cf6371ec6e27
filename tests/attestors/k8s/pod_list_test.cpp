// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/k8s/pod_list.cpp: the SAX parser of the kubelet's /pods answer.
#include "attestors/k8s/pod_list.h"

#include <string>

#include <catch2/catch.hpp>

namespace lanyard::attestors::k8s {
namespace {

const std::string kWebId = std::string(64, 'a');
const std::string kSidecarId = std::string(64, 'b');
const std::string kInitId = std::string(64, 'c');
const std::string kDebugId = std::string(64, 'd');
const std::string kOtherId = std::string(63, 'e') + "f";

// A kubelet answer as Kubernetes 1.28 writes it (trimmed of managedFields and volumes, but with
// the nested objects and arrays the parser has to skip).
std::string podListJson() {
  return R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[
  {"metadata":{"name":"web-7d4b9c8f6-x2x9q","generateName":"web-7d4b9c8f6-","namespace":"prod",
    "uid":"6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b","resourceVersion":"1234",
    "labels":{"app":"web","app.kubernetes.io/name":"web","pod-template-hash":"7d4b9c8f6"},
    "annotations":{"kubernetes.io/config.seen":"2024-01-01T00:00:00Z"},
    "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c8f6",
      "uid":"11111111-2222-3333-4444-555555555555","controller":true}]},
   "spec":{"volumes":[{"name":"kube-api-access","projected":{"sources":[{"serviceAccountToken":
      {"expirationSeconds":3607,"path":"token"}}]}}],
    "containers":[{"name":"web","image":"nginx:1.25","ports":[{"containerPort":80}],
      "resources":{}},{"name":"sidecar","image":"envoy:1.28"}],
    "restartPolicy":"Always","serviceAccountName":"web-sa","serviceAccount":"web-sa",
    "nodeName":"node-1","securityContext":{},"tolerations":[{"key":"a","operator":"Exists"}]},
   "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],
    "hostIP":"10.0.0.1","podIP":"10.1.0.5","podIPs":[{"ip":"10.1.0.5"}],
    "initContainerStatuses":[{"name":"init","state":{"terminated":{"exitCode":0}},
      "ready":true,"restartCount":0,"image":"busybox:1.36",
      "imageID":"docker-pullable://busybox@sha256:1111","containerID":"docker://)" +
         kInitId + R"("}],
    "containerStatuses":[
     {"name":"web","state":{"running":{"startedAt":"2024-01-01T00:00:01Z"}},"lastState":{},
      "ready":true,"restartCount":0,"image":"nginx:1.25",
      "imageID":"docker-pullable://nginx@sha256:2222","containerID":"containerd://)" +
         kWebId + R"(","started":true},
     {"name":"sidecar","state":{"running":{}},"ready":true,"restartCount":2,
      "image":"envoy:1.28","imageID":"envoy:1.28","containerID":"cri-o://)" +
         kSidecarId + R"("}],
    "ephemeralContainerStatuses":[{"name":"debugger","image":"busybox:1.36","imageID":"x",
      "containerID":"docker://)" +
         kDebugId + R"("}],
    "qosClass":"Burstable"}},
  {"metadata":{"name":"pending","namespace":"dev","uid":"99999999-8888-7777-6666-555555555555"},
   "spec":{"serviceAccountName":"default","nodeName":"node-1"},
   "status":{"phase":"Pending","containerStatuses":[{"name":"app","image":"app:1",
      "imageID":"","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}}]}},
  {"metadata":{"name":"legacy","namespace":"ops","uid":"12345678-1234-1234-1234-123456789abc"},
   "spec":{"serviceAccount":"old-sa"},
   "status":{"containerStatuses":[{"name":"c","image":"i","containerID":"docker://)" +
         kOtherId + R"("}]}}
  ]})";
}

TEST_CASE("a realistic pod list gives each pod's metadata, labels and service account",
          "[k8s][pod_list]") {
  auto list = PodList::parse(podListJson());
  REQUIRE(list.has_value());
  REQUIRE(list->pods().size() == 3);
  const Pod* web = list->findPod("6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b");
  REQUIRE(web != nullptr);
  CHECK(web->name == "web-7d4b9c8f6-x2x9q");
  CHECK(web->ns == "prod");
  CHECK(web->serviceAccount == "web-sa");
  CHECK(web->nodeName == "node-1");
  using Label = std::pair<std::string, std::string>;
  CHECK(web->labels == std::vector<Label>{{"app", "web"},
                                          {"app.kubernetes.io/name", "web"},
                                          {"pod-template-hash", "7d4b9c8f6"}});
  // Nothing from annotations, ownerReferences or spec.containers leaks in.
  CHECK(web->containers.size() == 4);
}

TEST_CASE("containers of all three status lists are found by runtime ID without the scheme",
          "[k8s][pod_list]") {
  auto list = PodList::parse(podListJson());
  REQUIRE(list.has_value());
  SECTION("a regular container (containerd://)") {
    auto m = list->findContainer(kWebId);
    REQUIRE(m.has_value());
    CHECK(m->pod->name == "web-7d4b9c8f6-x2x9q");
    CHECK(m->container->name == "web");
    CHECK(m->container->image == "nginx:1.25");
    CHECK(m->container->imageId == "docker-pullable://nginx@sha256:2222");
  }
  SECTION("a second container (cri-o://)") {
    auto m = list->findContainer(kSidecarId);
    REQUIRE(m.has_value());
    CHECK(m->container->name == "sidecar");
  }
  SECTION("an init container") {
    auto m = list->findContainer(kInitId);
    REQUIRE(m.has_value());
    CHECK(m->container->name == "init");
    CHECK(m->container->image == "busybox:1.36");
  }
  SECTION("an ephemeral container") {
    auto m = list->findContainer(kDebugId);
    REQUIRE(m.has_value());
    CHECK(m->container->name == "debugger");
  }
  SECTION("an ID with the scheme, or one not listed, is not found") {
    CHECK_FALSE(list->findContainer("containerd://" + kWebId).has_value());
    CHECK_FALSE(list->findContainer(std::string(64, '0')).has_value());
    CHECK_FALSE(list->findContainer("").has_value());
  }
}

TEST_CASE(
    "missing fields leave empty values: a container not started yet has no ID, the "
    "deprecated spec.serviceAccount is used only without serviceAccountName",
    "[k8s][pod_list]") {
  auto list = PodList::parse(podListJson());
  REQUIRE(list.has_value());
  const Pod* pending = list->findPod("99999999-8888-7777-6666-555555555555");
  REQUIRE(pending != nullptr);
  REQUIRE(pending->containers.size() == 1);
  CHECK(pending->containers[0].id.empty());
  CHECK(pending->containers[0].name == "app");
  CHECK(pending->labels.empty());
  const Pod* legacy = list->findPod("12345678-1234-1234-1234-123456789abc");
  REQUIRE(legacy != nullptr);
  CHECK(legacy->serviceAccount == "old-sa");
  CHECK(legacy->nodeName.empty());
  CHECK(list->findContainer(kOtherId).has_value());
}

TEST_CASE("pods without a uid are dropped; unexpected types are ignored, not trusted",
          "[k8s][pod_list]") {
  auto list = PodList::parse(R"({"items":[
    {"metadata":{"name":"no-uid","namespace":"a"},"status":{"containerStatuses":[
      {"name":"x","containerID":"docker://)" +
                             kWebId + R"("}]}},
    {"metadata":{"name":7,"namespace":["x"],"uid":"u-1","labels":{"a":1,"b":{"c":"d"},"e":"f"}},
     "spec":{"serviceAccountName":null,"nodeName":{"name":"n"}},
     "status":{"containerStatuses":{"name":"not-a-list"}}},
    "a string where a pod belongs", 42, null],
    "metadata":{"uid":"root-level-is-not-a-pod"}})");
  REQUIRE(list.has_value());
  REQUIRE(list->pods().size() == 1);
  const Pod& pod = list->pods()[0];
  CHECK(pod.uid == "u-1");
  CHECK(pod.name.empty());
  CHECK(pod.ns.empty());
  CHECK(pod.serviceAccount.empty());
  CHECK(pod.nodeName.empty());
  CHECK(pod.labels == std::vector<std::pair<std::string, std::string>>{{"e", "f"}});
  CHECK(pod.containers.empty());
  CHECK_FALSE(list->findContainer(kWebId).has_value());
}

TEST_CASE("an empty list, and a list without items, parse to no pods", "[k8s][pod_list]") {
  for (const char* text : {R"({"kind":"PodList","items":[]})", "{}", R"({"items":null})"}) {
    auto list = PodList::parse(text);
    REQUIRE(list.has_value());
    CHECK(list->pods().empty());
  }
}

TEST_CASE("malformed JSON and documents that are no object fail with the byte offset",
          "[k8s][pod_list]") {
  struct Bad {
    std::string text;
    std::string want;
  };
  auto bad = GENERATE(Bad{"", "at byte"}, Bad{R"({"items":[{"metadata":{"uid":"a"}})", "at byte"},
                      Bad{R"({"items":[]}garbage)", "at byte"}, Bad{"[]", "not a JSON object"},
                      Bad{"\"text\"", "not a JSON object"}, Bad{"42", "not a JSON object"},
                      Bad{R"({"items":[{"metadata":{"uid":"a\u0000)", "at byte"},
                      Bad{"{\"items\":[\xff]}", "at byte"});
  auto list = PodList::parse(bad.text);
  REQUIRE_FALSE(list.has_value());
  CHECK(list.error().code == Code::InvalidArgument);
  CHECK_THAT(list.error().message,
             Catch::Contains("parsing the kubelet pod list") && Catch::Contains(bad.want));
}

TEST_CASE("deep nesting in skipped fields does not exhaust the stack", "[k8s][pod_list]") {
  std::string deep = R"({"items":[{"metadata":{"uid":"u"},"spec":{"x":)";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}}]}";
  auto list = PodList::parse(deep);
  REQUIRE(list.has_value());
  CHECK(list->pods().size() == 1);
}

TEST_CASE("a 250-pod, multi-megabyte list parses and indexes every container", "[k8s][pod_list]") {
  std::string text = R"({"kind":"PodList","items":[)";
  for (int p = 0; p < 250; ++p) {
    char id[65];
    std::snprintf(id, sizeof(id), "%064x", p);
    text += (p ? "," : "") + std::string(R"({"metadata":{"name":"pod-)") + std::to_string(p) +
            R"(","namespace":"ns","uid":"uid-)" + std::to_string(p) +
            R"(","annotations":{"big":")" + std::string(16000, 'x') +
            R"("}},"status":{"containerStatuses":[{"name":"c","containerID":"docker://)" + id +
            R"("}]}})";
  }
  text += "]}";
  REQUIRE(text.size() > 4'000'000);
  auto list = PodList::parse(text);
  REQUIRE(list.has_value());
  CHECK(list->pods().size() == 250);
  char last[65];
  std::snprintf(last, sizeof(last), "%064x", 249);
  auto m = list->findContainer(last);
  REQUIRE(m.has_value());
  CHECK(m->pod->name == "pod-249");
}

TEST_CASE("a parsed list can be moved and still finds its pods", "[k8s][pod_list]") {
  auto list = PodList::parse(podListJson());
  REQUIRE(list.has_value());
  PodList moved = std::move(*list);
  PodList again;
  again = std::move(moved);
  REQUIRE(again.findContainer(kWebId).has_value());
  CHECK(again.findContainer(kWebId)->pod->ns == "prod");
  CHECK(again.findPod("12345678-1234-1234-1234-123456789abc") != nullptr);
}

TEST_CASE("stripRuntimeScheme drops docker://, containerd:// and cri-o://", "[k8s][pod_list]") {
  CHECK(stripRuntimeScheme("docker://abc") == "abc");
  CHECK(stripRuntimeScheme("containerd://abc") == "abc");
  CHECK(stripRuntimeScheme("cri-o://abc") == "abc");
  CHECK(stripRuntimeScheme("abc") == "abc");
  CHECK(stripRuntimeScheme("").empty());
}

}  // namespace
}  // namespace lanyard::attestors::k8s
