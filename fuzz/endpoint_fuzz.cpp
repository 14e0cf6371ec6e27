// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for Workload API endpoint addresses (EP-4, EP-5): what parses is a unix
// path or an IP literal with a port, and parses again to the same target.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "workload_api/client/endpoint_address.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = lanyard::workload_api::parseEndpointAddress(input);
  if (!parsed) {
    check(parsed.error().code == lanyard::Code::InvalidArgument);
    check(!parsed.error().message.empty());
    return 0;
  }
  const std::string& target = parsed->target;
  check(target.starts_with("unix:///") || target.starts_with("ipv4:") ||
        target.starts_with("ipv6:["));
  // The gRPC target of what parsed is itself a valid address with the same meaning.
  if (target.starts_with("unix:")) {
    auto again = lanyard::workload_api::parseEndpointAddress(target);
    check(again.has_value() && again->target == target);
    check(target.find('\0') == std::string::npos);
  }
  return 0;
}
