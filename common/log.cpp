// SPDX-License-Identifier: Apache-2.0
// Logger registry: stderr without timestamps (journald adds them), text or JSON lines.
#include "common/log.h"

#include <mutex>

#include <spdlog/pattern_formatter.h>
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

// %j: the message as the inside of a JSON string (quotes, backslashes and control bytes
// escaped), so a log line stays one valid JSON object whatever the message holds.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (u < 0x20) {
        const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
        dest.append(esc, esc + sizeof(esc));
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> makeFormatter(Format format) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  if (format == Format::Json) {
    f->add_flag<JsonMessageFlag>('j').set_pattern(R"({"level":"%l","logger":"%n","msg":"%j"})");
  } else {
    f->set_pattern("%l %n: %v");  // "info svid: message"
  }
  return f;
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (auto existing = spdlog::get(name)) {
    return existing;
  }
  auto logger = spdlog::stderr_logger_mt(name);
  logger->set_level(s.level);
  logger->set_formatter(makeFormatter(s.format));
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
    l->set_formatter(makeFormatter(format));
  });
  return {};
}

}  // namespace lanyard::log
