// SPDX-License-Identifier: Apache-2.0
// A cheap pre-check on JSON nesting, run before nlohmann parses bundles and JWT segments, so
// hostile input cannot drive its recursion deep. Internal to svid/.
#pragma once

#include <string_view>

namespace lanyard::svid {

/// True when no array or object in `text` nests deeper than `maxDepth` (strings are skipped).
bool jsonDepthWithin(std::string_view text, int maxDepth);

}  // namespace lanyard::svid
