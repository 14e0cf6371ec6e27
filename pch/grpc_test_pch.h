// SPDX-License-Identifier: Apache-2.0
// Precompiled header for the Catch2 test executables that see gRPC.
#ifndef LANYARD_PCH_GRPC_TEST_PCH_H
#define LANYARD_PCH_GRPC_TEST_PCH_H

#include "grpc_pch.h"

#include <catch2/catch.hpp>

#endif  // LANYARD_PCH_GRPC_TEST_PCH_H
