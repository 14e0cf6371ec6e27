// SPDX-License-Identifier: Apache-2.0
// Logger registry: stderr without timestamps (journald adds them), text or JSON lines.
#include "common/log.h"

#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>

namespace lanyard::log {
namespace {

struct State {
  std::mutex mu;  // guards everything below
  spdlog::level::level_enum level = spdlog::level::info;
  Format format = Format::Text;
};

State& state() {
  static State s;
  return s;
}

const char* patternFor(Format f) {
  // Text: "info svid: message". JSON: one object per line (messages are ours and carry no
  // double quotes unescaped; the daemon's JSON sink escapes them when it arrives).
  return f == Format::Json ? R"({"level":"%l","logger":"%n","msg":"%v"})" : "%l %n: %v";
}

}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (auto existing = spdlog::get(name)) {
    return existing;
  }
  auto logger = spdlog::stderr_logger_mt(name);
  logger->set_level(s.level);
  logger->set_pattern(patternFor(s.format));
  return logger;
}

Result<void> configure(const std::string& level, Format format) {
  spdlog::level::level_enum lvl;
  if (level == "debug") {
    lvl = spdlog::level::debug;
  } else if (level == "info") {
    lvl = spdlog::level::info;
  } else if (level == "warn") {
    lvl = spdlog::level::warn;
  } else if (level == "error") {
    lvl = spdlog::level::err;
  } else {
    return fail(Code::InvalidArgument, "setting log level: unknown level \"" + level +
                                           "\" (want debug, info, warn or error)");
  }
  State& s = state();
  std::lock_guard lock(s.mu);
  s.level = lvl;
  s.format = format;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
    l->set_level(lvl);
    l->set_pattern(patternFor(format));
  });
  return {};
}

}  // namespace lanyard::log
