// SPDX-License-Identifier: Apache-2.0
// The attestor registry: name -> factory, filled by LANYARD_REGISTER_ATTESTOR before main()
// (STYLE.md §3, after Envoy's envoy/registry/registry.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "attestors/attestor.h"
#include "common/result.h"

namespace lanyard::attestors {

/// The process-wide map from attestor name to factory: the only global in the agent (STYLE.md
/// §6). It is built inside a function on first use, so registrars in any translation unit may
/// run in any order during static initialisation. Thread-safe (an internal mutex), though in
/// practice it is written before main() and only read afterwards.
class Registry {
 public:
  /// Registers `factory` under `name`. Registering a name twice is a bug and aborts: two
  /// attestors would claim the same selector type.
  static void add(std::string_view name, Factory factory);

  /// The registered names, sorted.
  static std::vector<std::string> registeredNames();

  /// Runs the factory registered under `name` with `config`. NotFound for an unknown name;
  /// the factory's own error otherwise. Both read `configuring attestor "<name>": ...`.
  static Result<std::unique_ptr<Attestor>> create(std::string_view name, const YAML::Node& config);

 private:
  friend class ScopedFactoryOverride;
  /// Sets `name` to `factory` (nullopt removes it) and returns what was there.
  static std::optional<Factory> replace(std::string_view name, std::optional<Factory> factory);
};

/// Registers a factory when constructed; LANYARD_REGISTER_ATTESTOR makes one static instance.
class Registrar {
 public:
  Registrar(std::string_view name, Factory factory) { Registry::add(name, factory); }
};

/// For tests: swaps in `factory` under `name` (adding the name if needed) for the lifetime of
/// this object, then restores what was there. Not for concurrent use with other overrides of
/// the same name.
class ScopedFactoryOverride {
 public:
  ScopedFactoryOverride(std::string_view name, Factory factory);
  ~ScopedFactoryOverride();
  ScopedFactoryOverride(const ScopedFactoryOverride&) = delete;
  ScopedFactoryOverride& operator=(const ScopedFactoryOverride&) = delete;

 private:
  std::string name_;
  std::optional<Factory> previous_;
};

}  // namespace lanyard::attestors

// Registers `factory` (a lanyard::attestors::Factory) as attestor `name` at static
// initialisation. Use once, as the last line of an attestor's config.cpp, and link the
// attestor's library with link_whole: (STYLE.md §2) or the registrar is dropped.
#define LANYARD_REGISTER_ATTESTOR(name, factory)                                                   \
  static const ::lanyard::attestors::Registrar LANYARD_CONCAT(lanyardAttestorRegistrar, __LINE__)( \
      name, factory)
