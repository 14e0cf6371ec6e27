// SPDX-License-Identifier: Apache-2.0
// Lets Catch2 print a Result: "ok" or the error's code and message.
#pragma once

#include <catch2/catch.hpp>

#include "common/result.h"

namespace Catch {
template <typename T>
struct StringMaker<lanyard::Result<T>> {
  static std::string convert(const lanyard::Result<T>& r) {
    return r.has_value()
               ? std::string("ok")
               : std::string(lanyard::codeName(r.error().code)) + ": " + r.error().message;
  }
};
}  // namespace Catch
