// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the /proc/<pid>/cgroup parsers (attestors/container/cgroup.h), checking
// invariants: what is reported is well formed, and a single-line file agrees with its path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "attestors/container/cgroup.h"

namespace {

using lanyard::attestors::container::CgroupIdentity;

void require(bool cond) {
  if (!cond) {
    std::abort();
  }
}

bool lowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

void checkIdentity(const CgroupIdentity& id) {
  require(id.containerId.empty() || (id.containerId.size() == 64 && lowerHex(id.containerId)));
  require(id.runtime.empty() || !id.containerId.empty());
  require(id.podUid.size() == 0 || id.podUid.size() == 32 || id.podUid.size() == 36);
  require(id.podUid.find('_') == std::string::npos);
  require(id.podUid.empty() == id.qosClass.empty());
  require(id.systemdUnit.find('/') == std::string::npos);
  require(id.systemdUserUnit.empty() || id.systemdUnit.starts_with("user@"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lines = lanyard::attestors::container::parseCgroupLines(text);
  auto identity = lanyard::attestors::container::parseCgroupIdentity(text);
  require(lines.has_value() || !identity.has_value());
  if (identity) {
    checkIdentity(*identity);
  }
  if (lines && lines->size() == 1 && identity) {
    CgroupIdentity one = lanyard::attestors::container::identityFromPath((*lines)[0].path);
    require(one.containerId == identity->containerId && one.podUid == identity->podUid);
  }
  checkIdentity(lanyard::attestors::container::identityFromPath(text));
  return 0;
}
