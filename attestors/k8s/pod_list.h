// SPDX-License-Identifier: Apache-2.0
// PodList: the few fields of a kubelet /pods answer that k8s selectors need, parsed with
// nlohmann's SAX interface into a compact index by pod UID and container ID.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.h"

namespace lanyard::attestors::k8s {

/// One entry of status.containerStatuses, initContainerStatuses or ephemeralContainerStatuses.
struct ContainerStatus {
  /// The runtime's container ID without its scheme: "docker://ab12…" is stored as "ab12…".
  /// Empty while the container has not started.
  std::string id;
  std::string name;
  std::string image;
  std::string imageId;
};

/// One pod: metadata, the two spec fields selectors use, and its containers' statuses.
struct Pod {
  std::string uid;
  std::string name;
  std::string ns;
  std::string serviceAccount;
  std::string nodeName;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<ContainerStatus> containers;
};

/// A parsed pod list. Immutable once parsed; shared between callers as a
/// std::shared_ptr<const PodList>, so every method is const and thread-safe. Not copyable: the
/// indexes point into the pods' own strings (moving keeps them valid).
class PodList {
 public:
  PodList() = default;
  PodList(PodList&&) = default;
  PodList& operator=(PodList&&) = default;
  PodList(const PodList&) = delete;
  PodList& operator=(const PodList&) = delete;

  /// Parses a kubelet /pods document (a v1 PodList) without building a JSON DOM: only the
  /// fields above are kept. Pods without metadata.uid are dropped (nothing can match them).
  /// Malformed JSON, or a document that is not a JSON object, fails with InvalidArgument
  /// naming the byte offset.
  static Result<PodList> parse(std::string_view json);

  /// A container and the pod it belongs to.
  struct Match {
    const Pod* pod = nullptr;
    const ContainerStatus* container = nullptr;
  };

  /// The container with this runtime ID (no scheme), or nullopt.
  std::optional<Match> findContainer(std::string_view containerId) const;
  /// The pod with this UID, or nullptr.
  const Pod* findPod(std::string_view uid) const;

  const std::vector<Pod>& pods() const { return pods_; }

 private:
  explicit PodList(std::vector<Pod> pods);

  std::vector<Pod> pods_;
  std::unordered_map<std::string_view, size_t> byUid_;
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> byContainer_;
};

/// "docker://ab12" -> "ab12"; text without "://" is returned as it is.
std::string_view stripRuntimeScheme(std::string_view containerId);

}  // namespace lanyard::attestors::k8s
