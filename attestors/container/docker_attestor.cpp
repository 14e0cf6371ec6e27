// SPDX-License-Identifier: Apache-2.0
// DockerAttestor: cgroup -> container ID -> engine inspect (retried until the deadline while
// the engine does not know the container yet) -> selectors, with a short-lived cache.
#include "attestors/container/docker_attestor.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "attestors/container/cgroup.h"
#include "common/file_io.h"
#include "common/log.h"

namespace lanyard::attestors::container {
namespace {

constexpr std::chrono::milliseconds kFirstPause{20};
constexpr std::chrono::milliseconds kMaxPause{320};

}  // namespace

Result<std::string> SystemHostProcesses::cgroup(pid_t pid) const { return readCgroupFile(pid); }

Result<uint64_t> SystemHostProcesses::startTime(pid_t pid) const {
  LANYARD_TRY(std::string text, fileio::read("/proc/" + std::to_string(pid) + "/stat"));
  return parseStatStartTime(text);
}

Result<uint64_t> parseStatStartTime(std::string_view text) {
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) {
    return fail(Code::InvalidArgument, "parsing process stat: no command name");
  }
  // Fields after the command name start at 3 (state); starttime is field 22.
  std::string_view rest = text.substr(close + 1);
  for (int field = 3; field <= 22; ++field) {
    size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(start);
    size_t end = std::min(rest.find(' '), rest.size());
    if (field == 22) {
      uint64_t value = 0;
      std::string_view token = rest.substr(0, end);
      token = token.substr(0, std::min(token.find('\n'), token.size()));
      auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
      if (token.empty() || ec != std::errc() || ptr != token.data() + token.size()) {
        break;
      }
      return value;
    }
    rest.remove_prefix(end);
  }
  return fail(Code::InvalidArgument, "parsing process stat: no start time");
}

std::vector<Selector> containerSelectors(const ContainerInfo& info) {
  std::vector<Selector> out;
  for (const auto& [key, value] : info.labels) {
    out.push_back({"docker", "label:" + key + ":" + value});
  }
  for (const auto& e : info.env) {
    out.push_back({"docker", "env:" + e});
  }
  if (!info.image.empty()) {
    out.push_back({"docker", "image_id:" + info.image});
  }
  out.push_back({"container", "id:" + info.id});
  if (!info.name.empty()) {
    out.push_back({"container", "name:" + info.name});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

DockerAttestor::DockerAttestor(Engines engines, std::unique_ptr<const HostProcesses> procs,
                               std::chrono::milliseconds cacheTtl)
    : engines_(std::move(engines)), procs_(std::move(procs)), cacheTtl_(cacheTtl) {
  LANYARD_ASSERT(procs_ != nullptr, "the docker attestor reads /proc through HostProcesses");
}

size_t DockerAttestor::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

Result<std::vector<Selector>> DockerAttestor::attest(const Caller& caller,
                                                     Deadline deadline) const {
  const std::string doing = "attesting pid " + std::to_string(caller.pid);
  auto text = procs_->cgroup(caller.pid);
  if (!text) {
    return fail(text.error().code == Code::NotFound ? Code::Unavailable : text.error().code,
                doing + ": " + text.error().message);
  }
  auto identity = parseCgroupIdentity(*text);
  if (!identity) {
    return fail(identity.error().wrap(doing));
  }
  if (!identity->inContainer()) {
    return std::vector<Selector>{};  // a host process: nothing to say
  }
  const EngineApi* engine = nullptr;
  if (identity->runtime == "docker" || identity->runtime.empty()) {
    engine = engines_.docker.get();
  } else if (identity->runtime == "podman") {
    engine = engines_.podman.get();
  }
  if (engine == nullptr) {
    log::get("attestor.docker")
        ->debug("pid {}: container {} of runtime \"{}\" is not asked", caller.pid,
                identity->containerId, identity->runtime);
    return std::vector<Selector>{};
  }
  if (auto hit = cached(identity->containerId)) {
    return containerSelectors(*hit);
  }
  auto info = inspectWithRetry(*engine, identity->containerId, deadline);
  if (!info) {
    return fail(info.error().wrap(doing));
  }
  return containerSelectors(*info);
}

Result<ContainerInfo> DockerAttestor::inspect(const EngineApi& engine, const std::string& id,
                                              Deadline deadline) const {
  {
    std::lock_guard lock(mu_);
    ++requests_;
  }
  LANYARD_TRY(std::string body, engine.inspectContainer(id, deadline));
  auto info = parseContainerInspect(body);
  if (!info) {
    return fail(Code::Unavailable,
                "asking " + engine.endpoint() + " about " + id + ": " + info.error().message);
  }
  if (info->id != id) {
    // The Engine API also resolves names and ID prefixes: only the exact container counts.
    return fail(Code::Internal, "asking " + engine.endpoint() + " about " + id +
                                    ": it answered for container " + info->id);
  }
  return info;
}

Result<ContainerInfo> DockerAttestor::inspectWithRetry(const EngineApi& engine,
                                                       const std::string& id,
                                                       Deadline deadline) const {
  auto pause = kFirstPause;
  int attempts = 0;
  std::string why;
  for (;;) {
    ++attempts;
    auto info = inspect(engine, id, deadline);
    if (info && info->running && info->pid > 0) {
      // The first process's start time tells a restarted container from the one cached.
      if (auto start = procs_->startTime(info->pid)) {
        remember(id, *info, *start);
      }
      return info;
    }
    if (info) {
      why = "the engine does not report it running";
    } else if (info.error().code == Code::NotFound) {
      why = "the engine does not know it";
    } else {
      return fail(info.error());
    }
    // SPIRE #3092: a process may call before its engine has recorded the container it runs
    // in. Ask again until the deadline, never answer without the engine.
    auto now = std::chrono::steady_clock::now();
    if (now + pause >= deadline) {
      return fail(Code::Unavailable, "container " + id + " on " + engine.endpoint() + ": " + why +
                                         " (asked " + std::to_string(attempts) +
                                         " times until the deadline)");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, kMaxPause);
  }
}

std::optional<ContainerInfo> DockerAttestor::cached(const std::string& id) const {
  if (cacheTtl_.count() == 0) {
    return std::nullopt;
  }
  CacheEntry entry;
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(id);
    if (it == index_.end()) {
      return std::nullopt;
    }
    if (std::chrono::steady_clock::now() - it->second->second.fetched >= cacheTtl_) {
      lru_.erase(it->second);
      index_.erase(it);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    entry = it->second->second;
  }
  // A container that stopped or restarted has another first process (or none): its cached
  // answer (name, running state) may be stale, so ask the engine again.
  auto start = procs_->startTime(entry.info.pid);
  if (!start || *start != entry.initStartTime) {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(id); it != index_.end()) {
      lru_.erase(it->second);
      index_.erase(it);
    }
    return std::nullopt;
  }
  return entry.info;
}

void DockerAttestor::remember(const std::string& id, const ContainerInfo& info,
                              uint64_t initStartTime) const {
  if (cacheTtl_.count() == 0) {
    return;
  }
  std::lock_guard lock(mu_);
  if (auto it = index_.find(id); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.emplace_front(id, CacheEntry{info, initStartTime, std::chrono::steady_clock::now()});
  index_.emplace(id, lru_.begin());
  if (lru_.size() > kCacheCapacity) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

}  // namespace lanyard::attestors::container
