// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the k8s attestor's kubelet pod list parser: never crashes, agrees with
// nlohmann's own validator on what is JSON, and indexes exactly the pods and containers kept.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "attestors/k8s/pod_list.h"

namespace {

using lanyard::attestors::k8s::PodList;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto list = PodList::parse(text);
  bool valid = nlohmann::json::accept(text);
  if (!list.has_value()) {
    check(list.error().code == lanyard::Code::InvalidArgument);
    // Valid JSON is refused only when it is not an object.
    if (valid) {
      auto first = text.find_first_not_of(" \t\r\n");
      check(first != std::string_view::npos && text[first] != '{');
    }
    return 0;
  }
  check(valid);
  for (const auto& pod : list->pods()) {
    check(!pod.uid.empty());
    const auto* found = list->findPod(pod.uid);
    check(found != nullptr && found->uid == pod.uid);
    for (const auto& c : pod.containers) {
      if (c.id.empty()) {
        continue;
      }
      auto m = list->findContainer(c.id);
      check(m.has_value() && m->container->id == c.id);
    }
  }
  return 0;
}
