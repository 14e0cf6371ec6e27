// SPDX-License-Identifier: Apache-2.0
// Fan-out over the configured attestors and the merge of their selectors.
#include "attestors/attestor_set.h"

#include <algorithm>
#include <string>

#include "attestors/registry.h"
#include "common/log.h"

namespace lanyard::attestors {
namespace {

const char* nodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

std::string lineOf(const YAML::Node& node) {
  int line = node.Mark().line;
  return line >= 0 ? " (line " + std::to_string(line + 1) + ")" : "";
}

}  // namespace

AttestorSet::AttestorSet(std::vector<std::unique_ptr<Attestor>> attestors)
    : attestors_(std::move(attestors)) {
  for (const auto& a : attestors_) {
    LANYARD_ASSERT(a != nullptr, "an attestor set holds no null attestors");
  }
}

Result<AttestorSet> AttestorSet::fromConfig(const YAML::Node& attestorsNode) {
  std::vector<std::unique_ptr<Attestor>> built;
  if (!attestorsNode.IsDefined() || attestorsNode.IsNull()) {
    // DESIGN.md §4: with no attestors: key, the unix attestor alone.
    LANYARD_TRY(auto unixAttestor, Registry::create("unix", YAML::Node()));
    built.push_back(std::move(unixAttestor));
    return AttestorSet(std::move(built));
  }
  if (!attestorsNode.IsMap()) {
    return fail(Code::InvalidArgument, "reading attestors" + lineOf(attestorsNode) +
                                           ": want a map from attestor name to its settings, got " +
                                           nodeKind(attestorsNode));
  }
  if (attestorsNode.size() == 0) {
    return fail(Code::InvalidArgument,
                "reading attestors" + lineOf(attestorsNode) +
                    ": no attestor enabled (leave the key out for the unix attestor alone)");
  }
  for (const auto& entry : attestorsNode) {
    if (!entry.first.IsScalar()) {
      return fail(Code::InvalidArgument, "reading attestors" + lineOf(entry.first) +
                                             ": want an attestor name as key, got " +
                                             nodeKind(entry.first));
    }
    LANYARD_TRY(auto attestor, Registry::create(entry.first.Scalar(), entry.second));
    built.push_back(std::move(attestor));
  }
  return AttestorSet(std::move(built));
}

Result<std::vector<Selector>> AttestorSet::attest(const Caller& caller, Deadline deadline,
                                                  const FailureObserver& onFailure) const {
  std::vector<Selector> merged;
  std::string failures;
  size_t failed = 0;
  for (const auto& attestor : attestors_) {
    auto got = attestor->attest(caller, deadline);
    if (!got) {
      // SPIRE workload.go: one attestor's failure must not deny the workload the selectors the
      // others found; it is degraded service, so warn.
      log::get("attestor." + std::string(attestor->name()))
          ->warn("attestation failed, skipping this attestor: {}", got.error().message);
      failures += (failures.empty() ? "" : "; ") + std::string(attestor->name()) + ": " +
                  got.error().message;
      ++failed;
      if (onFailure) {
        onFailure(attestor->name());
      }
      continue;
    }
    merged.insert(merged.end(), std::make_move_iterator(got->begin()),
                  std::make_move_iterator(got->end()));
  }
  if (failed > 0 && failed == attestors_.size()) {
    return fail(Code::Unavailable, "attesting pid " + std::to_string(caller.pid) +
                                       ": every attestor failed (" + failures + ")");
  }
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  return merged;
}

std::vector<std::string> AttestorSet::names() const {
  std::vector<std::string> out;
  out.reserve(attestors_.size());
  for (const auto& a : attestors_) {
    out.emplace_back(a->name());
  }
  return out;
}

}  // namespace lanyard::attestors
