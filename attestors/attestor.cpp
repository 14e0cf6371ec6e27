// SPDX-License-Identifier: Apache-2.0
// Selector spelling: "type:value" both ways.
#include "attestors/attestor.h"

namespace lanyard::attestors {

std::string Selector::str() const { return type + ":" + value; }

Result<Selector> parseSelector(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return fail(Code::InvalidArgument,
                "parsing selector \"" + std::string(text) + "\": want type:value");
  }
  if (colon == 0) {
    return fail(Code::InvalidArgument,
                "parsing selector \"" + std::string(text) + "\": empty type");
  }
  if (colon + 1 == text.size()) {
    return fail(Code::InvalidArgument,
                "parsing selector \"" + std::string(text) + "\": empty value");
  }
  return Selector{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

}  // namespace lanyard::attestors
