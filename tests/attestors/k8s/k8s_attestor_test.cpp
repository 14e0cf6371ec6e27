// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/k8s/k8s_attestor.cpp and pod_list_cache.cpp against a fake kubelet
// client and a fake cgroup reader.
#include "attestors/k8s/k8s_attestor.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace lanyard::attestors::k8s {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kPodA = "aaaaaaaa-1111-2222-3333-444444444444";
const std::string kPodB = "bbbbbbbb-1111-2222-3333-444444444444";
const std::string kCtrA = std::string(64, 'a');
const std::string kCtrB = std::string(64, 'b');

std::string podJson(const std::string& uid, const std::string& ns, const std::string& sa,
                    const std::string& containerId) {
  return R"({"metadata":{"name":"pod-)" + ns + R"(","namespace":")" + ns + R"(","uid":")" + uid +
         R"(","labels":{"app":")" + ns +
         R"(","k8s.io/tier":"front"}},"spec":{"serviceAccountName":")" + sa +
         R"(","nodeName":"node-1"},"status":{"containerStatuses":[{"name":"main",)" +
         R"("image":"busybox:1.36","imageID":"docker-pullable://busybox@sha256:12",)" +
         R"("containerID":"docker://)" + containerId + R"("}]}})";
}

// A kubelet whose answer the test sets; counts fetches, can be slow or fail.
class FakeKubelet final : public KubeletClient {
 public:
  void set(std::string body) {
    std::lock_guard lock(mu_);
    body_ = std::move(body);
  }
  void failWith(std::optional<Error> error) {
    std::lock_guard lock(mu_);
    error_ = std::move(error);
  }
  std::chrono::milliseconds delay{0};
  mutable std::atomic<int> calls{0};
  mutable std::atomic<int> concurrent{0};
  mutable std::atomic<int> maxConcurrent{0};

  Result<std::string> fetchPods(Deadline) const override {
    ++calls;
    int now = ++concurrent;
    int seen = maxConcurrent.load();
    while (now > seen && !maxConcurrent.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(delay);
    --concurrent;
    std::lock_guard lock(mu_);
    if (error_) {
      return fail(*error_);
    }
    return body_;
  }
  std::string url() const override { return "http://fake/pods"; }

 private:
  mutable std::mutex mu_;
  std::string body_ = R"({"items":[]})";
  std::optional<Error> error_;
};

// Borrowed by the attestor through a forwarding wrapper, so the test keeps control.
class BorrowedKubelet final : public KubeletClient {
 public:
  explicit BorrowedKubelet(const FakeKubelet& k) : k_(k) {}
  Result<std::string> fetchPods(Deadline d) const override { return k_.fetchPods(d); }
  std::string url() const override { return k_.url(); }

 private:
  const FakeKubelet& k_;
};

class FakeLocator final : public PodLocator {
 public:
  std::map<pid_t, std::optional<PodMembership>> byPid;
  Result<std::optional<PodMembership>> locate(pid_t pid) const override {
    auto it = byPid.find(pid);
    if (it == byPid.end()) {
      return fail(Code::NotFound, "reading /proc/" + std::to_string(pid) + "/cgroup: gone");
    }
    return it->second;
  }
};

struct Fixture {
  FakeKubelet kubelet;
  const FakeLocator* locator = nullptr;
  std::unique_ptr<K8sAttestor> attestor;

  explicit Fixture(K8sConfig config = {5, 20ms, 1000ms}) {
    auto loc = std::make_unique<FakeLocator>();
    loc->byPid[10] = PodMembership{kPodA, kCtrA};
    loc->byPid[11] = PodMembership{kPodB, kCtrB};
    loc->byPid[12] = std::nullopt;                 // a host process
    loc->byPid[13] = PodMembership{kPodA, ""};     // the pod's own cgroup
    loc->byPid[14] = PodMembership{kPodB, kCtrA};  // kCtrA claimed under the wrong pod
    locator = loc.get();
    attestor = std::make_unique<K8sAttestor>(config, std::make_unique<BorrowedKubelet>(kubelet),
                                             std::move(loc));
    kubelet.set(R"({"items":[)" + podJson(kPodA, "prod", "web", kCtrA) + "," +
                podJson(kPodB, "dev", "api", kCtrB) + "]}");
  }

  Result<std::vector<Selector>> attest(pid_t pid, std::chrono::milliseconds budget = 2000ms) {
    return attestor->attest(Caller{pid, 0, 0, -1}, Clock::now() + budget);
  }
};

std::vector<std::string> strs(const std::vector<Selector>& s) {
  std::vector<std::string> out;
  for (const auto& x : s) {
    out.push_back(x.str());
  }
  return out;
}

TEST_CASE("a process in a listed container gets SPIRE's k8s selectors", "[k8s][attestor]") {
  Fixture f;
  auto got = f.attest(10);
  REQUIRE(got.has_value());
  CHECK(strs(*got) == std::vector<std::string>{
                          "k8s:ns:prod",
                          "k8s:sa:web",
                          "k8s:pod-name:pod-prod",
                          "k8s:pod-uid:" + kPodA,
                          "k8s:node-name:node-1",
                          "k8s:pod-label:app:prod",
                          "k8s:pod-label:k8s.io/tier:front",
                          "k8s:container-name:main",
                          "k8s:container-image:busybox:1.36",
                          "k8s:container-image:docker-pullable://busybox@sha256:12",
                      });
  auto other = f.attest(11);
  REQUIRE(other.has_value());
  CHECK(strs(*other)[0] == "k8s:ns:dev");
  CHECK(strs(*other)[1] == "k8s:sa:api");
}

TEST_CASE("a process in no pod gets no selectors and no error, without asking the kubelet",
          "[k8s][attestor]") {
  Fixture f;
  auto got = f.attest(12);
  REQUIRE(got.has_value());
  CHECK(got->empty());
  CHECK(f.kubelet.calls == 0);
}

TEST_CASE("a process in the pod's own cgroup gets the pod's selectors but no container's",
          "[k8s][attestor]") {
  Fixture f;
  auto got = f.attest(13);
  REQUIRE(got.has_value());
  auto s = strs(*got);
  CHECK(std::find(s.begin(), s.end(), "k8s:ns:prod") != s.end());
  for (const auto& x : s) {
    CHECK(x.rfind("k8s:container-", 0) == std::string::npos);
  }
}

TEST_CASE("a container listed under another pod than its cgroup names gets no identity",
          "[k8s][attestor]") {
  Fixture f({2, 10ms, 1000ms});
  auto got = f.attest(14);
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Code::Unavailable);
}

TEST_CASE("a process that exited fails with Unavailable", "[k8s][attestor]") {
  Fixture f;
  auto got = f.attest(99);
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Code::Unavailable);
  CHECK_THAT(got.error().message, Catch::Contains("process exited"));
}

TEST_CASE("a container the kubelet does not list yet is retried, and found once listed",
          "[k8s][attestor]") {
  Fixture f({50, 20ms, 1000ms});
  f.kubelet.set(R"({"items":[)" + podJson(kPodB, "dev", "api", kCtrB) + "]}");
  REQUIRE(f.attest(11).has_value());  // cached now
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    f.kubelet.set(R"({"items":[)" + podJson(kPodA, "prod", "web", kCtrA) + "," +
                  podJson(kPodB, "dev", "api", kCtrB) + "]}");
  });
  auto got = f.attest(10);
  later.join();
  REQUIRE(got.has_value());
  CHECK(strs(*got)[0] == "k8s:ns:prod");
  CHECK(f.kubelet.calls >= 3);
}

TEST_CASE(
    "a pod never listed fails with Unavailable after max_poll_attempts, never with "
    "another pod's identity",
    "[k8s][attestor]") {
  Fixture f({3, 10ms, 1000ms});
  f.kubelet.set(R"({"items":[)" + podJson(kPodB, "dev", "api", kCtrB) + "]}");
  auto got = f.attest(10);
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Code::Unavailable);
  CHECK_THAT(got.error().message,
             Catch::Contains("pod " + kPodA) && Catch::Contains("not in the kubelet's pod list"));
  CHECK(f.kubelet.calls == 3);
}

TEST_CASE("retries stop at the attestation deadline", "[k8s][attestor]") {
  Fixture f({10000, 20ms, 1000ms});
  f.kubelet.set(R"({"items":[]})");
  auto start = Clock::now();
  auto got = f.attest(10, 200ms);
  auto took = Clock::now() - start;
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Code::Unavailable);
  CHECK(took >= 180ms);
  CHECK(took < 1000ms);
}

TEST_CASE("a kubelet that fails or answers garbage gives Unavailable naming the cause",
          "[k8s][attestor]") {
  Fixture f({2, 10ms, 1000ms});
  SECTION("unreachable") {
    f.kubelet.failWith(Error{Code::Unavailable, "GET http://fake/pods: connecting: refused"});
    auto got = f.attest(10);
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::Contains("connecting: refused"));
  }
  SECTION("not JSON") {
    f.kubelet.set("<html>oops</html>");
    auto got = f.attest(10);
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::Contains("parsing the kubelet pod list"));
  }
}

TEST_CASE("lookups within the cache TTL share one fetch; a miss refreshes", "[k8s][cache]") {
  Fixture f({3, 10ms, 60000ms});
  for (int i = 0; i < 20; ++i) {
    REQUIRE(f.attest(i % 2 ? 10 : 11).has_value());
  }
  CHECK(f.kubelet.calls == 1);
  f.kubelet.set(R"({"items":[)" + podJson(kPodB, "dev", "api", kCtrB) + "]}");
  CHECK(f.attest(10).has_value());  // still cached: served from the old list
  CHECK(f.kubelet.calls == 1);
}

TEST_CASE("concurrent callers wait for one fetch in flight instead of starting their own",
          "[k8s][cache]") {
  Fixture f({3, 10ms, 60000ms});
  f.kubelet.delay = 150ms;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      if (f.attest(i % 2 ? 10 : 11).has_value()) {
        ++ok;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(ok == 16);
  CHECK(f.kubelet.calls == 1);
  CHECK(f.kubelet.maxConcurrent == 1);
}

TEST_CASE("callers served from the cache are not held up by a slow refresh", "[k8s][cache]") {
  Fixture f({3, 10ms, 60000ms});
  REQUIRE(f.attest(11).has_value());
  f.kubelet.delay = 1500ms;
  std::thread missing([&] { (void)f.attest(14, 3000ms); });  // a miss: refreshes, slowly
  while (f.kubelet.calls < 2) {
    std::this_thread::sleep_for(5ms);
  }
  auto start = Clock::now();
  REQUIRE(f.attest(11).has_value());
  CHECK(Clock::now() - start < 500ms);  // far less than the refresh in flight
  missing.join();
}

TEST_CASE("a waiter whose deadline passes during another caller's fetch fails alone",
          "[k8s][cache]") {
  FakeKubelet kubelet;
  kubelet.delay = 300ms;
  PodListCache cache(kubelet, 1000ms);
  std::thread first([&] { CHECK(cache.get(0, Clock::now() + 2000ms).has_value()); });
  std::this_thread::sleep_for(50ms);
  auto waiter = cache.get(0, Clock::now() + 50ms);
  REQUIRE_FALSE(waiter.has_value());
  CHECK(waiter.error().code == Code::Unavailable);
  first.join();
  CHECK(cache.fetches() == 1);
  auto after = cache.get(0, Clock::now() + 50ms);
  CHECK(after.has_value());
  CHECK(after->generation == 1);
}

TEST_CASE("waiters of a failed fetch get its error", "[k8s][cache]") {
  FakeKubelet kubelet;
  kubelet.delay = 200ms;
  kubelet.failWith(Error{Code::Unavailable, "kubelet down"});
  PodListCache cache(kubelet, 1000ms);
  std::thread first([&] { CHECK_FALSE(cache.get(0, Clock::now() + 2000ms).has_value()); });
  std::this_thread::sleep_for(50ms);
  auto waiter = cache.get(0, Clock::now() + 2000ms);
  first.join();
  REQUIRE_FALSE(waiter.has_value());
  CHECK_THAT(waiter.error().message, Catch::Contains("kubelet down"));
  CHECK(cache.fetches() == 1);
}

TEST_CASE("an expired cache entry is fetched again", "[k8s][cache]") {
  FakeKubelet kubelet;
  PodListCache cache(kubelet, 30ms);
  REQUIRE(cache.get(0, Clock::now() + 1000ms).has_value());
  REQUIRE(cache.get(0, Clock::now() + 1000ms).has_value());
  CHECK(kubelet.calls == 1);
  std::this_thread::sleep_for(40ms);
  auto again = cache.get(0, Clock::now() + 1000ms);
  REQUIRE(again.has_value());
  CHECK(again->generation == 2);
  CHECK(kubelet.calls == 2);
}

}  // namespace
}  // namespace lanyard::attestors::k8s
