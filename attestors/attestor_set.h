// SPDX-License-Identifier: Apache-2.0
// AttestorSet: every configured attestor, asked in turn, with their selectors merged
// (STYLE.md §3, after SPIRE's pkg/agent/attestor/workload/workload.go).
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "attestors/attestor.h"
#include "common/result.h"

namespace lanyard::attestors {

/// Owns the configured attestors. Immutable once built; attest() is const and safe from many
/// threads at once (each Attestor is). `daemon/` owns the set.
class AttestorSet {
 public:
  explicit AttestorSet(std::vector<std::unique_ptr<Attestor>> attestors);

  /// Builds the set from the `attestors:` node of the config file: a map from attestor name to
  /// its settings. An absent or null node means the unix attestor alone with its defaults.
  /// An unknown name or bad settings fail, naming the attestor and the key.
  static Result<AttestorSet> fromConfig(const YAML::Node& attestorsNode);

  /// Asks every attestor (in turn, each bounded by `deadline`) and returns the union of their
  /// selectors, sorted and without duplicates. An attestor that fails is logged on
  /// "attestor.<name>" and skipped, as SPIRE does; when every attestor fails the result is
  /// Unavailable (the caller may retry).
  /// `onFailure`, when set, is called with the name of each attestor that failed (for the
  /// daemon's per-attestor error counter); it must be thread-safe.
  using FailureObserver = std::function<void(std::string_view attestor)>;
  Result<std::vector<Selector>> attest(const Caller& caller, Deadline deadline,
                                       const FailureObserver& onFailure = {}) const;

  /// The attestors' names, in the order they are asked.
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<Attestor>> attestors_;
};

}  // namespace lanyard::attestors
