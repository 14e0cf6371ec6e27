// SPDX-License-Identifier: Apache-2.0
// UnixEngineClient: GET /v1.41/containers/<id>/json with Boost.Beast over a Unix socket, each
// step bounded by the caller's deadline (beast::basic_stream's expiry). Asio stays in this file.
#include "attestors/container/engine_client.h"

#include <sys/un.h>

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace lanyard::attestors::container {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using Local = asio::local::stream_protocol;
using Stream = beast::basic_stream<Local, asio::any_io_executor, beast::unlimited_rate_policy>;

constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

// Runs one asynchronous operation to completion: sequential code whose every step honours the
// stream's expiry (Asio's synchronous calls have no timeouts).
template <class Start>
error_code runOne(asio::io_context& ioc, Start&& start) {
  error_code result = asio::error::would_block;
  std::forward<Start>(start)([&result](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

std::string describe(const error_code& ec) {
  return ec == beast::error::timeout ? std::string("deadline exceeded") : ec.message();
}

}  // namespace

Result<std::string> engineSocketPath(std::string_view uri) {
  std::string_view path = uri;
  if (path.starts_with("unix://")) {
    path.remove_prefix(7);
  } else if (path.find("://") != std::string_view::npos) {
    return fail(Code::InvalidArgument,
                "want unix:///path/to/socket, got \"" + std::string(uri) + "\"");
  }
  if (!path.starts_with('/')) {
    return fail(Code::InvalidArgument,
                "want an absolute socket path, got \"" + std::string(uri) + "\"");
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return fail(Code::InvalidArgument, "socket path \"" + std::string(path) + "\" is longer than " +
                                           std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                           " bytes");
  }
  return std::string(path);
}

Result<std::unique_ptr<UnixEngineClient>> UnixEngineClient::create(std::string_view uri,
                                                                   uint64_t maxResponseBytes) {
  LANYARD_TRY(std::string path, engineSocketPath(uri));
  std::string shown = uri.starts_with("unix://") ? std::string(uri) : "unix://" + path;
  return std::unique_ptr<UnixEngineClient>(
      new UnixEngineClient(std::move(shown), std::move(path), maxResponseBytes));
}

UnixEngineClient::UnixEngineClient(std::string uri, std::string path, uint64_t maxResponseBytes)
    : uri_(std::move(uri)), path_(std::move(path)), maxResponseBytes_(maxResponseBytes) {}

Result<std::string> UnixEngineClient::inspectContainer(std::string_view id,
                                                       Deadline deadline) const {
  const std::string target =
      "/" + std::string(kEngineApiVersion) + "/containers/" + std::string(id) + "/json";
  const std::string doing = "GET " + target + " on " + uri_;
  if (std::chrono::steady_clock::now() >= deadline) {
    return fail(Code::Unavailable, doing + ": deadline exceeded");
  }
  asio::io_context ioc(1);
  Stream stream(ioc);
  stream.expires_at(deadline);
  if (auto ec = runOne(ioc, [&](auto h) { stream.async_connect(Local::endpoint(path_), h); })) {
    return fail(Code::Unavailable, doing + ": connecting: " + describe(ec));
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");  // the Engine API ignores it; HTTP/1.1 wants one
  req.set(http::field::user_agent, "lanyardd");
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (auto ec = runOne(ioc, [&](auto h) { http::async_write(stream, req, h); })) {
    return fail(Code::Unavailable, doing + ": sending the request: " + describe(ec));
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(maxResponseBytes_);
  const auto tooLarge = [&] {
    return fail(Code::ResourceExhausted, doing + ": the answer is larger than " +
                                             std::to_string(maxResponseBytes_) + " bytes");
  };
  // The header first: Boost 1.74's parser skips body_limit for a Content-Length body that
  // arrives in the same read as its header (async_read parses eagerly), so the declared length
  // is checked here, and the body's size again below.
  auto ec = runOne(ioc, [&](auto h) { http::async_read_header(stream, buffer, parser, h); });
  if (ec == http::error::header_limit ||
      (!ec && parser.content_length() && *parser.content_length() > maxResponseBytes_)) {
    return tooLarge();
  }
  if (!ec && !parser.is_done()) {
    ec = runOne(ioc, [&](auto h) { http::async_read(stream, buffer, parser, h); });
  }
  if (ec == http::error::body_limit) {
    return tooLarge();
  }
  if (ec) {
    return fail(Code::Unavailable, doing + ": reading the answer: " + describe(ec));
  }
  auto& res = parser.get();
  if (res.body().size() > maxResponseBytes_) {
    return tooLarge();
  }
  if (res.result() == http::status::not_found) {
    return fail(Code::NotFound, doing + ": no such container");
  }
  if (res.result() != http::status::ok) {
    return fail(Code::Unavailable, doing + ": the engine answered " +
                                       std::to_string(res.result_int()) + " " +
                                       std::string(res.reason()));
  }
  return std::move(res.body());
}

}  // namespace lanyard::attestors::container
