// SPDX-License-Identifier: Apache-2.0
// Files on disk: atomic writes (temp file, fsync, rename) and reads that check permissions.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace lanyard::fileio {

/// Writes `data` to `path` atomically: a temp file in the same directory with `mode`, fsync,
/// rename over `path`, fsync of the directory. On failure `path` is untouched.
Result<void> writeAtomic(const std::string& path, std::string_view data, mode_t mode);

/// Reads a whole file. NotFound when it does not exist.
Result<std::string> read(const std::string& path);

/// Reads a file that holds a secret: fails with PermissionDenied when the group or other
/// permission bits are set (it must be 0600 or stricter) or it is not a regular file.
Result<std::string> readSecret(const std::string& path);

/// Creates `path` and missing parents with `mode` (existing directories are left as they are).
Result<void> makeDirs(const std::string& path, mode_t mode);

/// True when `path` exists (any type).
bool exists(const std::string& path);

}  // namespace lanyard::fileio
