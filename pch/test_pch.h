// SPDX-License-Identifier: Apache-2.0
// Precompiled header for the Catch2 test executables without gRPC.
#ifndef LANYARD_PCH_TEST_PCH_H
#define LANYARD_PCH_TEST_PCH_H

#include "lanyard_pch.h"

#include <catch2/catch.hpp>

#endif  // LANYARD_PCH_TEST_PCH_H
