// SPDX-License-Identifier: Apache-2.0
// Tests for attestors/container/docker_attestor.cpp and engine_api.cpp against a fake engine
// and a fake /proc: selectors, runtimes, the retry of an engine that does not know the
// container yet (SPIRE #3092), fail-closed errors and the cache.
#include "attestors/container/docker_attestor.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "support/result_matchers.h"

namespace lanyard::attestors::container {
namespace {

using namespace std::chrono_literals;

const std::string kId = "3a8f1c0e2b4d6f8a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a";
const std::string kOtherId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::string inspectJson(const std::string& id, bool running = true, int pid = 4242,
                        const std::string& name = "/web") {
  return R"({"Id":")" + id + R"(","Name":")" + name +
         R"(","Image":"sha256:feed","Config":{"Image":"example/web:1","Labels":{"app":"web","tier":"a:b"},"Env":["A=1","B=x=y"]},"State":{"Running":)" +
         (running ? "true" : "false") + R"(,"Pid":)" + std::to_string(pid) + "}}";
}

// Answers from a script: each call takes the next answer (the last one repeats).
class FakeEngine final : public EngineApi {
 public:
  explicit FakeEngine(std::vector<Result<std::string>> answers) : answers_(std::move(answers)) {}
  Result<std::string> inspectContainer(std::string_view id, Deadline) const override {
    std::lock_guard lock(mu_);
    asked_.emplace_back(id);
    size_t i = std::min(calls_++, answers_.size() - 1);
    return answers_[i];
  }
  std::string endpoint() const override { return "unix:///fake.sock"; }
  size_t calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::vector<Result<std::string>> answers_;
  mutable std::mutex mu_;
  mutable size_t calls_ = 0;
  mutable std::vector<std::string> asked_;
};

class FakeProcs final : public HostProcesses {
 public:
  FakeProcs(std::string cgroupText, std::map<pid_t, uint64_t>* starts)
      : cgroup_(std::move(cgroupText)), starts_(starts) {}
  Result<std::string> cgroup(pid_t) const override { return cgroup_; }
  Result<uint64_t> startTime(pid_t pid) const override {
    auto it = starts_->find(pid);
    if (it == starts_->end()) {
      return fail(Code::NotFound, "no such process");
    }
    return it->second;
  }

 private:
  std::string cgroup_;
  std::map<pid_t, uint64_t>* starts_;
};

struct Fixture {
  std::map<pid_t, uint64_t> starts{{4242, 100}};
  const FakeEngine* docker = nullptr;
  const FakeEngine* podman = nullptr;

  std::unique_ptr<DockerAttestor> make(const std::string& cgroupText,
                                       std::vector<Result<std::string>> dockerAnswers,
                                       std::vector<Result<std::string>> podmanAnswers = {},
                                       std::chrono::milliseconds ttl = 5000ms) {
    Engines engines;
    auto d = std::make_unique<FakeEngine>(std::move(dockerAnswers));
    docker = d.get();
    engines.docker = std::move(d);
    if (!podmanAnswers.empty()) {
      auto p = std::make_unique<FakeEngine>(std::move(podmanAnswers));
      podman = p.get();
      engines.podman = std::move(p);
    }
    return std::make_unique<DockerAttestor>(std::move(engines),
                                            std::make_unique<FakeProcs>(cgroupText, &starts), ttl);
  }
};

Result<std::vector<Selector>> attest(const DockerAttestor& a,
                                     std::chrono::milliseconds within = 2000ms) {
  return a.attest({77, 1000, 1000, -1}, std::chrono::steady_clock::now() + within);
}

std::vector<std::string> strs(const std::vector<Selector>& selectors) {
  std::vector<std::string> out;
  for (const auto& s : selectors) {
    out.push_back(s.str());
  }
  return out;
}

TEST_CASE("a docker container gets SPIRE's docker selectors and container id and name",
          "[attestors][docker]") {
  Fixture f;
  auto a = f.make("0::/docker/" + kId + "\n", {inspectJson(kId)});
  auto got = attest(*a);
  REQUIRE(got);
  CHECK(strs(*got) == std::vector<std::string>{
                          "container:id:" + kId,
                          "container:name:web",
                          "docker:env:A=1",
                          "docker:env:B=x=y",
                          "docker:image_id:example/web:1",
                          "docker:label:app:web",
                          "docker:label:tier:a:b",
                      });
}

TEST_CASE("a host process gets no docker selectors and the engine is not asked",
          "[attestors][docker]") {
  Fixture f;
  auto a = f.make("1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n0::/\n",
                  {fail(Code::Unavailable, "must not be asked")});
  auto got = attest(*a);
  REQUIRE(got);
  CHECK(got->empty());
  CHECK(f.docker->calls() == 0);
}

TEST_CASE("podman containers are asked at the podman endpoint", "[attestors][docker]") {
  Fixture f;
  auto a = f.make("0::/machine.slice/libpod-" + kId + ".scope/container\n",
                  {fail(Code::Unavailable, "docker must not be asked")}, {inspectJson(kId)});
  auto got = attest(*a);
  REQUIRE(got);
  CHECK(f.docker->calls() == 0);
  CHECK(f.podman->calls() == 1);
  CHECK(std::count(got->begin(), got->end(), Selector{"docker", "label:app:web"}) == 1);

  SECTION("without a podman endpoint a podman container gets nothing") {
    Fixture g;
    auto b = g.make("0::/machine.slice/libpod-" + kId + ".scope\n", {inspectJson(kId)});
    auto none = attest(*b);
    REQUIRE(none);
    CHECK(none->empty());
    CHECK(g.docker->calls() == 0);
  }
}

TEST_CASE("containers of other runtimes are not asked about", "[attestors][docker]") {
  Fixture f;
  auto a = f.make("0::/system.slice/crio-" + kId + ".scope\n", {inspectJson(kId)});
  auto got = attest(*a);
  REQUIRE(got);
  CHECK(got->empty());
  CHECK(f.docker->calls() == 0);
}

TEST_CASE("a container the engine does not know yet is asked again until it does",
          "[attestors][docker]") {
  Fixture f;
  auto a = f.make("0::/docker/" + kId + "\n", {fail(Code::NotFound, "no such container"),
                                               inspectJson(kId, false, 0), inspectJson(kId)});
  auto got = attest(*a);
  REQUIRE(got);
  CHECK(f.docker->calls() == 3);
  CHECK_FALSE(got->empty());
}

TEST_CASE("a container the engine never knows is unavailable at the deadline, never guessed",
          "[attestors][docker]") {
  Fixture f;
  auto a = f.make("0::/docker/" + kId + "\n", {fail(Code::NotFound, "no such container")});
  auto start = std::chrono::steady_clock::now();
  auto got = attest(*a, 300ms);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Code::Unavailable);
  CHECK_THAT(got.error().message, Catch::Contains("the engine does not know it") &&
                                      Catch::Contains("until the deadline") &&
                                      Catch::StartsWith("attesting pid 77: container " + kId));
  CHECK(took < 400ms);
  CHECK(f.docker->calls() >= 3);
}

TEST_CASE("engine failures fail closed", "[attestors][docker]") {
  Fixture f;
  SECTION("unreachable: at once") {
    auto a = f.make("0::/docker/" + kId + "\n",
                    {fail(Code::Unavailable, "connecting: connection refused")});
    auto got = attest(*a);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK(f.docker->calls() == 1);
  }
  SECTION("an answer for another container") {
    auto a = f.make("0::/docker/" + kId + "\n", {inspectJson(kOtherId)});
    auto got = attest(*a);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Internal);
    CHECK_THAT(got.error().message, Catch::Contains("answered for container " + kOtherId));
  }
  SECTION("a malformed answer") {
    auto a = f.make("0::/docker/" + kId + "\n", {std::string("{\"Id\": 7}")});
    auto got = attest(*a);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::Unavailable);
    CHECK_THAT(got.error().message, Catch::Contains("parsing container inspect answer: no Id"));
  }
  SECTION("a cgroup file naming two containers") {
    auto a = f.make("4:memory:/docker/" + kId + "\n3:cpu:/docker/" + kOtherId + "\n0::/\n",
                    {inspectJson(kId)});
    auto got = attest(*a);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::FailedPrecondition);
    CHECK(f.docker->calls() == 0);
  }
}

TEST_CASE("answers are cached until the ttl or a container restart", "[attestors][docker]") {
  Fixture f;
  auto a = f.make("0::/docker/" + kId + "\n", {inspectJson(kId)});
  REQUIRE(attest(*a));
  REQUIRE(attest(*a));
  CHECK(f.docker->calls() == 1);
  CHECK(a->requests() == 1);
  f.starts[4242] = 200;  // the container's first process restarted
  REQUIRE(attest(*a));
  CHECK(f.docker->calls() == 2);
  f.starts.erase(4242);  // stopped
  REQUIRE(attest(*a));
  CHECK(f.docker->calls() == 3);

  SECTION("ttl 0 turns the cache off") {
    Fixture g;
    auto b = g.make("0::/docker/" + kId + "\n", {inspectJson(kId)}, {}, 0ms);
    REQUIRE(attest(*b));
    REQUIRE(attest(*b));
    CHECK(g.docker->calls() == 2);
  }
  SECTION("an expired entry is asked again") {
    Fixture g;
    auto b = g.make("0::/docker/" + kId + "\n", {inspectJson(kId)}, {}, 20ms);
    REQUIRE(attest(*b));
    std::this_thread::sleep_for(30ms);
    REQUIRE(attest(*b));
    CHECK(g.docker->calls() == 2);
  }
}

TEST_CASE("inspect answers are parsed strictly", "[attestors][docker][engine]") {
  auto ok = parseContainerInspect(inspectJson(kId));
  REQUIRE(ok);
  CHECK(ok->id == kId);
  CHECK(ok->name == "web");
  CHECK(ok->image == "example/web:1");
  CHECK(ok->imageId == "sha256:feed");
  CHECK(ok->labels ==
        std::vector<std::pair<std::string, std::string>>{{"app", "web"}, {"tier", "a:b"}});
  CHECK(ok->env == std::vector<std::string>{"A=1", "B=x=y"});
  CHECK(ok->running);
  CHECK(ok->pid == 4242);

  auto minimal = parseContainerInspect(R"({"Id":"x","Config":null,"State":null})");
  REQUIRE(minimal);
  CHECK(minimal->labels.empty());
  CHECK_FALSE(minimal->running);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "not JSON"},
      {"[1]", "not a JSON object"},
      {"{}", "no Id"},
      {R"({"Id":""})", "no Id"},
      {R"({"Id":"x","Name":3})", "Name is not a string"},
      {R"({"Id":"x","Config":[]})", "Config is not an object"},
      {R"({"Id":"x","Config":{"Labels":{"a":1}}})", "Config.Labels.a is not a string"},
      {R"({"Id":"x","Config":{"Labels":[]}})", "Config.Labels is not an object"},
      {R"({"Id":"x","Config":{"Env":"A=1"}})", "Config.Env is not an array"},
      {R"({"Id":"x","Config":{"Env":[1]}})", "Config.Env holds a value that is not a string"},
      {R"({"Id":"x","Config":{"Image":{}}})", "Config.Image is not a string"},
      {R"({"Id":"x","State":{"Pid":-1}})", "State.Pid is not a process ID"},
      {R"({"Id":"x","State":{"Pid":99999999999}})", "State.Pid is not a process ID"},
      {R"({"Id":"x","State":{"Pid":1.5}})", "State.Pid is not a process ID"},
      {R"({"Id":"x","State":{"Running":"yes"}})", "State.Running is not a boolean"},
  };
  for (const auto& [body, message] : bad) {
    auto got = parseContainerInspect(body);
    INFO(body);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Code::InvalidArgument);
    CHECK(got.error().message == "parsing container inspect answer: " + message);
  }
}

TEST_CASE("the start time is read from /proc/<pid>/stat text", "[attestors][docker]") {
  const std::string rest =
      " S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
  CHECK(*parseStatStartTime("7 (a) b) c)" + rest) == 987654);
  CHECK_FALSE(parseStatStartTime("7 no parenthesis"));
  CHECK_FALSE(parseStatStartTime("7 (short) S 1 2"));
  CHECK_FALSE(parseStatStartTime("7 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 z"));
  auto self = SystemHostProcesses().startTime(::getpid());
  REQUIRE(self);
  CHECK(*self > 0);
}

}  // namespace
}  // namespace lanyard::attestors::container
