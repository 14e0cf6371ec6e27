// SPDX-License-Identifier: Apache-2.0
// UnixEngineClient: the Docker Engine API (and podman's Docker-compatible API) over a Unix
// socket, one HTTP/1.1 request per connection, bounded in time and size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "attestors/attestor.h"
#include "attestors/container/engine_api.h"
#include "common/result.h"

namespace lanyard::attestors::container {

/// The API version in every request path: both Docker 20.10+ and podman 4's compatibility
/// service answer it.
inline constexpr std::string_view kEngineApiVersion = "v1.41";

/// Turns "unix:///var/run/docker.sock" (or a bare absolute path) into the socket's path.
/// InvalidArgument for any other scheme, a relative path, or a path too long for sockaddr_un.
Result<std::string> engineSocketPath(std::string_view uri);

/// The real EngineApi: Boost.Beast over a Unix stream socket, every step bounded by the
/// caller's deadline (Asio stays inside engine_client.cpp). Immutable; each call makes its own
/// connection, so calls from many threads run at once.
class UnixEngineClient final : public EngineApi {
 public:
  /// `uri` as engineSocketPath() takes it; answers larger than `maxResponseBytes` fail with
  /// ResourceExhausted. The socket need not exist yet (the engine may start after the agent).
  static Result<std::unique_ptr<UnixEngineClient>> create(std::string_view uri,
                                                          uint64_t maxResponseBytes);

  Result<std::string> inspectContainer(std::string_view id, Deadline deadline) const override;
  std::string endpoint() const override { return uri_; }

 private:
  UnixEngineClient(std::string uri, std::string path, uint64_t maxResponseBytes);

  const std::string uri_;
  const std::string path_;
  const uint64_t maxResponseBytes_;
};

}  // namespace lanyard::attestors::container
