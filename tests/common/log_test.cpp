// SPDX-License-Identifier: Apache-2.0
// Tests for common/log.cpp: levels and the text and JSON line formats.
#include "common/log.h"

#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

namespace lanyard::log {
namespace {

std::string render(Format format, const std::string& message) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  spdlog::logger logger("svid", sink);
  logger.set_formatter(makeFormatter(format));
  logger.info("{}", message);
  return out.str();
}

TEST_CASE("text lines read level, logger and message", "[common][log]") {
  CHECK(render(Format::Text, "created CA 1") == "info svid: created CA 1\n");
}

TEST_CASE("JSON lines stay valid JSON whatever the message holds", "[common][log]") {
  std::string nasty = "a \"quoted\" \\ back\nslash\t\x01 end";
  std::string line = render(Format::Json, nasty);
  auto j = nlohmann::json::parse(line);
  CHECK(j["level"] == "info");
  CHECK(j["logger"] == "svid");
  CHECK(j["msg"] == nasty);
}

TEST_CASE("unknown log levels are rejected with the accepted ones named", "[common][log]") {
  auto r = configure("verbose", Format::Text);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Code::InvalidArgument);
  CHECK_THAT(r.error().message, Catch::Contains("debug, info, warn or error"));
  CHECK(configure("warn", Format::Json).has_value());
  CHECK(get("svid")->level() == spdlog::level::warn);
  CHECK(configure("info", Format::Text).has_value());
}

}  // namespace
}  // namespace lanyard::log
