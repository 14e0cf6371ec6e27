// SPDX-License-Identifier: Apache-2.0
// The attestor registry's map, built on first use so registration order does not matter.
#include "attestors/registry.h"

#include <cstdio>
#include <map>
#include <mutex>

namespace lanyard::attestors {
namespace {

struct State {
  std::mutex mu;  // guards factories
  std::map<std::string, Factory, std::less<>> factories;
};

State& state() {
  // Built on first use: a registrar in another translation unit may run before this file's
  // static initialisers (the "static initialisation order fiasco").
  static State s;
  return s;
}

std::string joinNames(const std::vector<std::string>& names) {
  if (names.empty()) {
    return "none";
  }
  std::string out;
  for (const auto& n : names) {
    out += (out.empty() ? "" : ", ") + n;
  }
  return out;
}

}  // namespace

void Registry::add(std::string_view name, Factory factory) {
  LANYARD_ASSERT(factory != nullptr, "an attestor factory must not be null");
  State& s = state();
  std::lock_guard lock(s.mu);
  bool inserted = s.factories.emplace(std::string(name), factory).second;
  if (!inserted) {
    std::fprintf(stderr, "lanyard: attestor \"%.*s\" is registered twice\n",
                 static_cast<int>(name.size()), name.data());
  }
  LANYARD_ASSERT(inserted, "each attestor name is registered once");
}

std::vector<std::string> Registry::registeredNames() {
  State& s = state();
  std::lock_guard lock(s.mu);
  std::vector<std::string> names;
  names.reserve(s.factories.size());
  for (const auto& [name, factory] : s.factories) {
    names.push_back(name);
  }
  return names;  // std::map keeps them sorted
}

Result<std::unique_ptr<Attestor>> Registry::create(std::string_view name,
                                                   const YAML::Node& config) {
  const std::string context = "configuring attestor \"" + std::string(name) + "\"";
  Factory factory = nullptr;
  {
    State& s = state();
    std::lock_guard lock(s.mu);
    auto it = s.factories.find(name);
    if (it != s.factories.end()) {
      factory = it->second;
    }
  }
  if (factory == nullptr) {
    return fail(Code::NotFound,
                context + ": unknown attestor (known: " + joinNames(registeredNames()) + ")");
  }
  auto made = factory(config);
  if (!made) {
    return fail(made.error().wrap(context));
  }
  LANYARD_ASSERT(*made != nullptr, "a factory that succeeds returns an attestor");
  return made;
}

std::optional<Factory> Registry::replace(std::string_view name, std::optional<Factory> factory) {
  State& s = state();
  std::lock_guard lock(s.mu);
  std::optional<Factory> previous;
  auto it = s.factories.find(name);
  if (it != s.factories.end()) {
    previous = it->second;
    s.factories.erase(it);
  }
  if (factory) {
    s.factories.emplace(std::string(name), *factory);
  }
  return previous;
}

ScopedFactoryOverride::ScopedFactoryOverride(std::string_view name, Factory factory)
    : name_(name), previous_(Registry::replace(name, factory)) {}

ScopedFactoryOverride::~ScopedFactoryOverride() { (void)Registry::replace(name_, previous_); }

}  // namespace lanyard::attestors
