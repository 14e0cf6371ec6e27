// SPDX-License-Identifier: Apache-2.0
// Parser for the Docker Engine API's container inspect answer (nlohmann-json, no exceptions).
#include "attestors/container/engine_api.h"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

namespace lanyard::attestors::container {
namespace {

using json = nlohmann::json;

Unexpected bad(const std::string& what) {
  return fail(Code::InvalidArgument, "parsing container inspect answer: " + what);
}

// The string at `key` of `obj`: "" when absent or null, an error for any other type.
Result<std::string> optionalString(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return bad(where + key + " is not a string");
  }
  return it->get<std::string>();
}

Result<void> readConfig(const json& config, ContainerInfo& out) {
  if (config.is_null()) {
    return {};
  }
  if (!config.is_object()) {
    return bad("Config is not an object");
  }
  LANYARD_TRY(out.image, optionalString(config, "Image", "Config."));
  if (auto labels = config.find("Labels"); labels != config.end() && !labels->is_null()) {
    if (!labels->is_object()) {
      return bad("Config.Labels is not an object");
    }
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) {
        return bad("Config.Labels." + key + " is not a string");
      }
      out.labels.emplace_back(key, value.get<std::string>());
    }
    std::sort(out.labels.begin(), out.labels.end());
  }
  if (auto env = config.find("Env"); env != config.end() && !env->is_null()) {
    if (!env->is_array()) {
      return bad("Config.Env is not an array");
    }
    for (const auto& e : *env) {
      if (!e.is_string()) {
        return bad("Config.Env holds a value that is not a string");
      }
      out.env.push_back(e.get<std::string>());
    }
  }
  return {};
}

Result<void> readState(const json& state, ContainerInfo& out) {
  if (state.is_null()) {
    return {};
  }
  if (!state.is_object()) {
    return bad("State is not an object");
  }
  if (auto running = state.find("Running"); running != state.end() && !running->is_null()) {
    if (!running->is_boolean()) {
      return bad("State.Running is not a boolean");
    }
    out.running = running->get<bool>();
  }
  if (auto pid = state.find("Pid"); pid != state.end() && !pid->is_null()) {
    if (!pid->is_number_integer() || pid->get<int64_t>() < 0 ||
        pid->get<int64_t>() > std::numeric_limits<pid_t>::max()) {
      return bad("State.Pid is not a process ID");
    }
    out.pid = static_cast<pid_t>(pid->get<int64_t>());
  }
  return {};
}

}  // namespace

Result<ContainerInfo> parseContainerInspect(std::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return bad("not JSON");
  }
  if (!doc.is_object()) {
    return bad("not a JSON object");
  }
  ContainerInfo out;
  auto id = doc.find("Id");
  if (id == doc.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    return bad("no Id");
  }
  out.id = id->get<std::string>();
  LANYARD_TRY(out.name, optionalString(doc, "Name", ""));
  if (out.name.starts_with('/')) {
    out.name.erase(0, 1);
  }
  LANYARD_TRY(out.imageId, optionalString(doc, "Image", ""));
  if (auto config = doc.find("Config"); config != doc.end()) {
    LANYARD_TRY_VOID(readConfig(*config, out));
  }
  if (auto state = doc.find("State"); state != doc.end()) {
    LANYARD_TRY_VOID(readState(*state, out));
  }
  return out;
}

}  // namespace lanyard::attestors::container
