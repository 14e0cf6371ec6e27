// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the daemon's YAML configuration parser: any input must yield a Config
// or an error naming file and line, never a crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = lanyard::daemon::parseConfig(text, "fuzz.yaml");
  if (!config && config.error().message.rfind("fuzz.yaml", 0) != 0) {
    __builtin_trap();  // every error names the file it came from
  }
  return 0;
}
