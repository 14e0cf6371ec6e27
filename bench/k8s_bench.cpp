// SPDX-License-Identifier: Apache-2.0
// The k8s attestor's pod list parser on a generated 250-pod, multi-megabyte kubelet answer,
// with its time and peak heap next to floors measured in the same run: nlohmann's own
// validation pass (json::accept, the lexer alone) and its DOM (json::parse, what a naive
// attestor builds); plus cached lookups through the attestor (docs/benchmarks.md).
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "attestors/k8s/k8s_attestor.h"
#include "attestors/k8s/pod_list.h"

// --- heap accounting: every operator new in the process is counted -------------------------

namespace {
std::atomic<int64_t> gLive{0};
std::atomic<int64_t> gPeak{0};
std::atomic<int64_t> gAllocs{0};

void* counted(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  int64_t live = gLive.fetch_add(static_cast<int64_t>(malloc_usable_size(p))) +
                 static_cast<int64_t>(malloc_usable_size(p));
  gAllocs.fetch_add(1, std::memory_order_relaxed);
  int64_t peak = gPeak.load(std::memory_order_relaxed);
  while (live > peak && !gPeak.compare_exchange_weak(peak, live)) {
  }
  return p;
}

void uncounted(void* p) {
  if (p != nullptr) {
    gLive.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)));
    std::free(p);
  }
}
}  // namespace

void* operator new(size_t n) { return counted(n); }
void* operator new[](size_t n) { return counted(n); }
void operator delete(void* p) noexcept { uncounted(p); }
void operator delete[](void* p) noexcept { uncounted(p); }
void operator delete(void* p, size_t) noexcept { uncounted(p); }
void operator delete[](void* p, size_t) noexcept { uncounted(p); }

namespace lanyard::attestors::k8s {
namespace {

constexpr int kPods = 250;

std::string hexId(int n, char salt) {
  char id[65];
  std::snprintf(id, sizeof(id), "%c%063x", salt, n);
  return id;
}

std::string podUid(int n) {
  char uid[40];
  std::snprintf(uid, sizeof(uid), "%08x-1111-2222-3333-%012x", n, n);
  return uid;
}

// One pod as a kubelet of Kubernetes 1.28 lists it: most of the bytes are managedFields, the
// last-applied annotation and spec (env, volumes, probes), none of which the attestor reads.
std::string pod(int n) {
  std::string name = "svc-" + std::to_string(n % 40) + "-7d4b9c8f6-" + std::to_string(n);
  std::string ns = "team-" + std::to_string(n % 12);
  std::string env;
  for (int e = 0; e < 40; ++e) {
    env += (e ? "," : "") + std::string(R"({"name":"SETTING_)") + std::to_string(e) +
           R"(","value":"value-of-setting-)" + std::to_string(e) + R"(-for-this-container"})";
  }
  std::string managed =
      R"({"manager":"kube-controller-manager","operation":"Update",)"
      R"("apiVersion":"v1","time":"2024-01-01T00:00:00Z","fieldsType":"FieldsV1",)"
      R"("fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{)";
  for (int f = 0; f < 60; ++f) {
    managed += (f ? "," : "") + std::string(R"("f:field)") + std::to_string(f) +
               R"(":{".":{},"f:name":{},"f:value":{}})";
  }
  managed += "}}}";
  std::string containers, statuses;
  for (int c = 0; c < 3; ++c) {
    std::string cname = c == 0 ? "app" : c == 1 ? "envoy" : "log-shipper";
    std::string image = "registry.example.com/" + cname + ":1." + std::to_string(c);
    containers +=
        (c ? "," : "") + std::string(R"({"name":")") + cname + R"(","image":")" + image +
        R"(","env":[)" + env +
        R"(],"resources":{"limits":{"cpu":"500m","memory":"256Mi"}},)"
        R"("livenessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":10},)"
        R"("volumeMounts":[{"name":"kube-api-access","mountPath":"/var/run/secrets"}]})";
    statuses += (c ? "," : "") + std::string(R"({"name":")") + cname +
                R"(","state":{"running":{"startedAt":"2024-01-01T00:00:01Z"}},"lastState":{},)"
                R"("ready":true,"restartCount":0,"image":")" +
                image + R"(","imageID":"docker-pullable://)" + image + "@sha256:" + hexId(n, 'f') +
                R"(","containerID":"containerd://)" + hexId(n * 3 + c, 'a') +
                R"(","started":true})";
  }
  return R"({"metadata":{"name":")" + name + R"(","generateName":"svc-","namespace":")" + ns +
         R"(","uid":")" + podUid(n) +
         R"(","resourceVersion":"123456","creationTimestamp":"2024-01-01T00:00:00Z",)"
         R"("labels":{"app":"svc-)" +
         std::to_string(n % 40) +
         R"(","app.kubernetes.io/name":"svc","pod-template-hash":"7d4b9c8f6"},)"
         R"("annotations":{"kubectl.kubernetes.io/last-applied-configuration":")" +
         std::string(3000, 'x') +
         R"("},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"svc",)"
         R"("uid":"11111111-2222-3333-4444-555555555555","controller":true}],)"
         R"("managedFields":[)" +
         managed + "," + managed + R"(]},"spec":{"containers":[)" + containers +
         R"(],"serviceAccountName":"sa-)" + std::to_string(n % 40) +
         R"(","nodeName":"node-1","restartPolicy":"Always"},)"
         R"("status":{"phase":"Running","hostIP":"10.0.0.1","podIP":"10.1.0.5",)"
         R"("containerStatuses":[)" +
         statuses + R"(],"qosClass":"Burstable"}})";
}

const std::string& document() {
  static const std::string doc = [] {
    std::string d = R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[)";
    for (int n = 0; n < kPods; ++n) {
      d += (n ? "," : "") + pod(n);
    }
    return d + "]}";
  }();
  return doc;
}

// Runs `body` per iteration and reports the heap it needed at its peak beyond what was live
// before (peak_heap_MiB) and its allocations per iteration, as counters.
template <class Body>
void measured(benchmark::State& state, Body body) {
  const std::string& doc = document();
  int64_t peakAbove = 0;
  int64_t allocs = 0;
  for (auto _ : state) {
    int64_t before = gLive.load();
    gPeak.store(before);
    int64_t allocsBefore = gAllocs.load();
    body(doc);
    peakAbove = std::max(peakAbove, gPeak.load() - before);
    allocs = gAllocs.load() - allocsBefore;
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(doc.size()));
  state.counters["doc_MiB"] = static_cast<double>(doc.size()) / (1 << 20);
  state.counters["peak_heap_MiB"] = static_cast<double>(peakAbove) / (1 << 20);
  state.counters["allocs"] = static_cast<double>(allocs);
}

void BM_Floor_JsonAccept(benchmark::State& state) {
  measured(state, [](const std::string& doc) {
    bool ok = nlohmann::json::accept(doc);
    benchmark::DoNotOptimize(ok);
  });
}

void BM_Floor_JsonDom(benchmark::State& state) {
  measured(state, [](const std::string& doc) {
    auto dom = nlohmann::json::parse(doc);
    benchmark::DoNotOptimize(dom.size());
  });
}

void BM_PodListParse(benchmark::State& state) {
  measured(state, [](const std::string& doc) {
    auto list = PodList::parse(doc);
    if (!list || list->pods().size() != kPods) {
      std::abort();
    }
    benchmark::DoNotOptimize(list->pods().data());
  });
}

// --- lookups through the attestor: served from the cached list ------------------------------

class InMemoryKubelet final : public KubeletClient {
 public:
  Result<std::string> fetchPods(Deadline) const override { return document(); }
  std::string url() const override { return "memory:/pods"; }
};

class OnePodLocator final : public PodLocator {
 public:
  Result<std::optional<PodMembership>> locate(pid_t pid) const override {
    int n = pid % kPods;
    return std::optional(PodMembership{podUid(n), hexId(n * 3, 'a')});
  }
};

const K8sAttestor& attestor() {
  static const K8sAttestor a(K8sConfig{3, std::chrono::milliseconds(10), std::chrono::hours(1)},
                             std::make_unique<InMemoryKubelet>(),
                             std::make_unique<OnePodLocator>());
  return a;
}

void BM_AttestCached(benchmark::State& state) {
  const auto& a = attestor();
  pid_t pid = static_cast<pid_t>(state.thread_index() * 7);
  for (auto _ : state) {
    auto got = a.attest(Caller{++pid, 0, 0, -1},
                        std::chrono::steady_clock::now() + std::chrono::seconds(5));
    if (!got || got->empty()) {
      std::abort();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["fetches"] = static_cast<double>(a.fetches());
}

BENCHMARK(BM_Floor_JsonAccept)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Floor_JsonDom)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PodListParse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AttestCached)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace lanyard::attestors::k8s

BENCHMARK_MAIN();
