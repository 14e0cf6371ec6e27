// SPDX-License-Identifier: Apache-2.0
// Precompiled header for the targets with several sources (meson's cpp_pch): the standard
// library, spdlog/fmt, nlohmann-json and OpenSSL, whose parsing dominated every compile.
// Only system headers belong here; a source must still include what it uses (STYLE.md).
#ifndef LANYARD_PCH_LANYARD_PCH_H
#define LANYARD_PCH_LANYARD_PCH_H

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#endif  // LANYARD_PCH_LANYARD_PCH_H
