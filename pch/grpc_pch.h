// SPDX-License-Identifier: Apache-2.0
// Precompiled header for the targets that see gRPC (workload_api/, daemon/, cli/): gRPC's and
// protobuf's headers are most of each such compile.
#ifndef LANYARD_PCH_GRPC_PCH_H
#define LANYARD_PCH_GRPC_PCH_H

#include "lanyard_pch.h"

#include <boost/asio/io_context.hpp>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#endif  // LANYARD_PCH_GRPC_PCH_H
