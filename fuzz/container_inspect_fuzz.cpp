// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the Engine API's container inspect parser
// (attestors/container/engine_api.h) and the selectors built from what it accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attestors/container/engine_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto info = lanyard::attestors::container::parseContainerInspect(body);
  if (info) {
    if (info->id.empty() || info->pid < 0 || info->name.starts_with('/')) {
      std::abort();
    }
    for (size_t i = 1; i < info->labels.size(); ++i) {
      if (info->labels[i] < info->labels[i - 1]) {
        std::abort();
      }
    }
  } else if (info.error().code != lanyard::Code::InvalidArgument) {
    std::abort();
  }
  return 0;
}
