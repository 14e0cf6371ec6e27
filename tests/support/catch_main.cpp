// SPDX-License-Identifier: Apache-2.0
// Catch2's main(), compiled once for every test executable, with the TAP reporter that meson
// reads (STYLE.md §9).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <catch2/catch_reporter_tap.hpp>
