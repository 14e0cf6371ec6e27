// SPDX-License-Identifier: Apache-2.0
// The kubelet pod list parser: a SAX handler that keeps only what selectors need, so a
// multi-megabyte answer is never held twice (as a string and as a DOM; SPIRE #3957, #5067).
#include "attestors/k8s/pod_list.h"

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace lanyard::attestors::k8s {
namespace {

using json = nlohmann::json;

// Where the parser is: one frame per open object or array. Skip covers everything whose
// contents are not needed (and everything nested in it).
enum class Ctx : uint8_t {
  Root,
  Items,
  Pod,
  Metadata,
  Labels,
  Spec,
  Status,
  Statuses,
  Container,
  Skip
};

// The key just read, for the value that follows it.
enum class Key : uint8_t {
  None,
  Items,
  Metadata,
  Spec,
  Status,
  Name,
  Namespace,
  Uid,
  Labels,
  ServiceAccountName,
  ServiceAccount,
  NodeName,
  Statuses,
  Image,
  ImageId,
  ContainerId,
  Label,
};

Key keyIn(Ctx ctx, std::string_view k) {
  switch (ctx) {
    case Ctx::Root:
      return k == "items" ? Key::Items : Key::None;
    case Ctx::Pod:
      return k == "metadata" ? Key::Metadata
             : k == "spec"   ? Key::Spec
             : k == "status" ? Key::Status
                             : Key::None;
    case Ctx::Metadata:
      return k == "name"        ? Key::Name
             : k == "namespace" ? Key::Namespace
             : k == "uid"       ? Key::Uid
             : k == "labels"    ? Key::Labels
                                : Key::None;
    case Ctx::Spec:
      return k == "serviceAccountName" ? Key::ServiceAccountName
             : k == "serviceAccount"   ? Key::ServiceAccount  // deprecated alias
             : k == "nodeName"         ? Key::NodeName
                                       : Key::None;
    case Ctx::Status:
      return (k == "containerStatuses" || k == "initContainerStatuses" ||
              k == "ephemeralContainerStatuses")
                 ? Key::Statuses
                 : Key::None;
    case Ctx::Container:
      return k == "name"          ? Key::Name
             : k == "image"       ? Key::Image
             : k == "imageID"     ? Key::ImageId
             : k == "containerID" ? Key::ContainerId
                                  : Key::None;
    case Ctx::Labels:
      return Key::Label;
    default:
      return Key::None;
  }
}

class Handler final : public nlohmann::json_sax<json> {
 public:
  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t) override { return scalar(); }
  bool number_unsigned(number_unsigned_t) override { return scalar(); }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }

  bool string(string_t& value) override {
    if (stack_.empty()) {
      return notAnObject();
    }
    Ctx top = stack_.back();
    Key key = std::exchange(key_, Key::None);
    if (top == Ctx::Metadata) {
      setIf(key == Key::Name, pod_.name, value);
      setIf(key == Key::Namespace, pod_.ns, value);
      setIf(key == Key::Uid, pod_.uid, value);
    } else if (top == Ctx::Labels && key == Key::Label) {
      pod_.labels.emplace_back(std::move(labelKey_), std::move(value));
    } else if (top == Ctx::Spec) {
      setIf(key == Key::ServiceAccountName, pod_.serviceAccount, value);
      // The deprecated spec.serviceAccount only counts when serviceAccountName is absent.
      if (key == Key::ServiceAccount && pod_.serviceAccount.empty()) {
        pod_.serviceAccount = std::move(value);
      }
      setIf(key == Key::NodeName, pod_.nodeName, value);
    } else if (top == Ctx::Container) {
      setIf(key == Key::Name, container_.name, value);
      setIf(key == Key::Image, container_.image, value);
      setIf(key == Key::ImageId, container_.imageId, value);
      if (key == Key::ContainerId) {
        container_.id = std::string(stripRuntimeScheme(value));
      }
    }
    return true;
  }

  bool key(string_t& k) override {
    Ctx top = stack_.back();
    key_ = keyIn(top, k);
    if (key_ == Key::Label) {
      labelKey_ = std::move(k);
    }
    return true;
  }

  bool start_object(std::size_t) override {
    if (stack_.empty()) {
      stack_.push_back(Ctx::Root);
      return true;
    }
    Ctx top = stack_.back();
    Key key = std::exchange(key_, Key::None);
    Ctx next = Ctx::Skip;
    if (top == Ctx::Items) {
      next = Ctx::Pod;
      pod_ = Pod{};
    } else if (top == Ctx::Statuses) {
      next = Ctx::Container;
      container_ = ContainerStatus{};
    } else if (top == Ctx::Pod) {
      next = key == Key::Metadata ? Ctx::Metadata
             : key == Key::Spec   ? Ctx::Spec
             : key == Key::Status ? Ctx::Status
                                  : Ctx::Skip;
    } else if (top == Ctx::Metadata && key == Key::Labels) {
      next = Ctx::Labels;
    }
    stack_.push_back(next);
    return true;
  }

  bool end_object() override {
    Ctx done = stack_.back();
    stack_.pop_back();
    if (done == Ctx::Pod) {
      if (!pod_.uid.empty()) {
        pods_.push_back(std::move(pod_));
      }
      pod_ = Pod{};
    } else if (done == Ctx::Container) {
      pod_.containers.push_back(std::move(container_));
    }
    return true;
  }

  bool start_array(std::size_t) override {
    if (stack_.empty()) {
      return notAnObject();
    }
    Ctx top = stack_.back();
    Key key = std::exchange(key_, Key::None);
    Ctx next = Ctx::Skip;
    if (top == Ctx::Root && key == Key::Items) {
      next = Ctx::Items;
    } else if (top == Ctx::Status && key == Key::Statuses) {
      next = Ctx::Statuses;
    }
    stack_.push_back(next);
    return true;
  }

  bool end_array() override {
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    // ex.what() reads "[json.exception.parse_error.101] parse error at line 1, column 7:
    // syntax error while parsing value - ...": keep what follows the id.
    std::string what = ex.what();
    if (auto close = what.find("] "); close != std::string::npos) {
      what.erase(0, close + 2);
    }
    error_ = "at byte " + std::to_string(position) + ": " + what;
    return false;
  }

  const std::string& error() const { return error_; }
  std::vector<Pod> takePods() { return std::move(pods_); }

 private:
  bool scalar() {
    key_ = Key::None;
    return stack_.empty() ? notAnObject() : true;
  }

  bool notAnObject() {
    error_ = "the document is not a JSON object (want a v1 PodList)";
    return false;
  }

  static void setIf(bool cond, std::string& field, std::string& value) {
    if (cond) {
      field = std::move(value);
    }
  }

  std::vector<Ctx> stack_;
  Key key_ = Key::None;
  std::string labelKey_;
  Pod pod_;
  ContainerStatus container_;
  std::vector<Pod> pods_;
  std::string error_;
};

}  // namespace

std::string_view stripRuntimeScheme(std::string_view containerId) {
  auto at = containerId.find("://");
  return at == std::string_view::npos ? containerId : containerId.substr(at + 3);
}

Result<PodList> PodList::parse(std::string_view text) {
  Handler handler;
  bool ok = json::sax_parse(text.begin(), text.end(), &handler);
  if (!ok) {
    std::string why = handler.error().empty() ? "parse failed" : handler.error();
    return fail(Code::InvalidArgument, "parsing the kubelet pod list: " + why);
  }
  return PodList(handler.takePods());
}

PodList::PodList(std::vector<Pod> pods) : pods_(std::move(pods)) {
  byUid_.reserve(pods_.size());
  for (size_t p = 0; p < pods_.size(); ++p) {
    byUid_.emplace(pods_[p].uid, p);
    const auto& containers = pods_[p].containers;
    for (size_t c = 0; c < containers.size(); ++c) {
      if (!containers[c].id.empty()) {
        byContainer_.emplace(containers[c].id,
                             std::make_pair(static_cast<uint32_t>(p), static_cast<uint32_t>(c)));
      }
    }
  }
}

std::optional<PodList::Match> PodList::findContainer(std::string_view containerId) const {
  auto it = byContainer_.find(containerId);
  if (it == byContainer_.end()) {
    return std::nullopt;
  }
  const Pod& pod = pods_[it->second.first];
  return Match{&pod, &pod.containers[it->second.second]};
}

const Pod* PodList::findPod(std::string_view uid) const {
  auto it = byUid_.find(uid);
  return it == byUid_.end() ? nullptr : &pods_[it->second];
}

}  // namespace lanyard::attestors::k8s
