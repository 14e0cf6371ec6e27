// SPDX-License-Identifier: Apache-2.0
// Rendering untrusted text (IDs, tokens' claims, config values) safely inside error messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lanyard::text {

/// `s` in double quotes with '"' and '\' backslash-escaped, bytes outside printable ASCII as
/// \xNN, and anything past `maxBytes` replaced by "...", so hostile input can neither forge nor
/// flood a log line. Pure; thread-safe.
std::string quote(std::string_view s, size_t maxBytes = 256);

/// One byte for a message: 'x' when printable ASCII, else "byte 0xNN".
std::string describeByte(char c);

}  // namespace lanyard::text
