// SPDX-License-Identifier: Apache-2.0
// The Docker Engine API as the container attestor uses it (GET /containers/<id>/json, which
// podman's Docker-compatible service answers too): the interface and the response parser.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attestors/attestor.h"
#include "common/result.h"

namespace lanyard::attestors::container {

/// What the attestor needs from one container's inspect answer.
struct ContainerInfo {
  std::string id;       // "Id": the full 64-hex ID
  std::string name;     // "Name" without its leading '/'
  std::string image;    // "Config.Image": the image as the container was created from
  std::string imageId;  // "Image": "sha256:..."
  std::vector<std::pair<std::string, std::string>> labels;  // "Config.Labels", sorted by key
  std::vector<std::string> env;                             // "Config.Env": "KEY=VALUE"
  bool running = false;                                     // "State.Running"
  pid_t pid = 0;  // "State.Pid": the container's first process, as the host sees it; 0 if none

  friend bool operator==(const ContainerInfo&, const ContainerInfo&) = default;
};

/// Parses the JSON body of GET /containers/<id>/json. InvalidArgument ("parsing container
/// inspect answer: ...") when it is no JSON object, or a field has the wrong type: Id must be a
/// string; Name, Image, Config.Image strings; Config.Labels an object of strings; Config.Env an
/// array of strings; State.Running a boolean; State.Pid an integer >= 0. Absent or null fields
/// other than Id are empty. Pure; never throws.
Result<ContainerInfo> parseContainerInspect(std::string_view body);

/// One container engine's API endpoint. Implementations are immutable and safe to call from
/// many threads at once; the attestor owns them.
class EngineApi {
 public:
  virtual ~EngineApi() = default;

  /// The body of GET /v1.41/containers/<id>/json, within `deadline`. NotFound when the engine
  /// answers 404 (it does not know the container, or not yet); Unavailable when it cannot be
  /// reached, answers another status or the deadline passes; ResourceExhausted when the answer
  /// is larger than the client's bound. Messages name the endpoint.
  virtual Result<std::string> inspectContainer(std::string_view id, Deadline deadline) const = 0;

  /// "unix:///var/run/docker.sock", for messages.
  virtual std::string endpoint() const = 0;
};

}  // namespace lanyard::attestors::container
