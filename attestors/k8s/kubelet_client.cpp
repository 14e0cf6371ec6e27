// SPDX-License-Identifier: Apache-2.0
// HttpKubeletClient: GET /pods with Boost.Beast, each step bounded by the caller's deadline
// (Beast's tcp_stream timeouts), the body bounded in size, the Bearer token re-read when its
// file changes. Asio stays inside this file: the header exposes none of it.
#include "attestors/k8s/kubelet_client.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/file_io.h"

namespace lanyard::attestors::k8s {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

// Runs one asynchronous operation to completion on `ioc`: sequential code whose every step
// still honours the stream's expiry (synchronous Asio calls have no timeouts).
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

// What identifies one version of a file (stat follows symlinks, so a projected volume's
// "..data" swap shows as a new inode).
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t mtimeNs = -1;
  off_t size = -1;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

Result<FileStamp> stampOf(const std::string& path, std::string_view doing) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(Code::Unavailable,
                std::string(doing) + " " + path + ": " + std::string(std::strerror(errno)));
  }
  return FileStamp{st.st_dev, st.st_ino,
                   int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, st.st_size};
}

}  // namespace

struct HttpKubeletClient::Impl {
  KubeletEndpoint ep;
  mutable std::mutex tokenMu;
  mutable FileStamp tokenStamp;  // tokenMu
  mutable std::string token;     // tokenMu
  mutable std::mutex tlsMu;
  mutable FileStamp caStamp;                        // tlsMu
  mutable std::shared_ptr<asio::ssl::context> tls;  // tlsMu; SSL_CTX is shared by fetches
  mutable std::atomic<size_t> lastBodySize{0};      // a reserve() hint for chunked answers

  Result<std::string> bearerToken() const;
  Result<std::shared_ptr<asio::ssl::context>> tlsContext() const;
  Result<std::string> fetch(Deadline deadline) const;
  template <class Stream>
  Result<std::string> exchange(asio::io_context& ioc, Stream& stream, beast::tcp_stream& tcpLayer,
                               Deadline deadline) const;
  // "127.0.0.1:10250", "[fd00::1]:10250": the Host header and the URL's authority.
  std::string hostPort() const {
    bool v6 = ep.host.find(':') != std::string::npos;
    return (v6 ? "[" + ep.host + "]" : ep.host) + ":" + std::to_string(ep.port);
  }
  std::string url() const {
    return std::string(ep.tls ? "https" : "http") + "://" + hostPort() + "/pods";
  }
};

Result<std::shared_ptr<asio::ssl::context>> HttpKubeletClient::Impl::tlsContext() const {
  FileStamp now;
  if (!ep.skipVerification) {
    LANYARD_TRY(now, stampOf(ep.caPath, "kubelet_ca_path"));
  }
  std::lock_guard lock(tlsMu);
  if (tls && now == caStamp) {
    return tls;
  }
  // Built on first use and again when the CA file changes (a rotated cluster CA), as SPIRE
  // rebuilds its kubelet client: a DaemonSet starts even before the CA is mounted.
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  error_code ec;
  if (ep.skipVerification) {
    ctx->set_verify_mode(asio::ssl::verify_none, ec);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (!ec) {
      ctx->load_verify_file(ep.caPath, ec);
    }
  }
  if (ec) {
    return fail(Code::Unavailable, "kubelet_ca_path: loading " + ep.caPath + ": " + ec.message());
  }
  tls = std::move(ctx);
  caStamp = now;
  return tls;
}

Result<std::string> HttpKubeletClient::Impl::bearerToken() const {
  LANYARD_TRY(FileStamp now, stampOf(ep.tokenPath, "reading the kubelet token"));
  std::lock_guard lock(tokenMu);
  if (token.empty() || now != tokenStamp) {
    // Projected tokens are replaced by a symlink swap: a new inode, so this re-reads.
    auto text = fileio::read(ep.tokenPath);
    if (!text) {
      return fail(Code::Unavailable, "reading the kubelet token: " + text.error().message);
    }
    std::string t = std::move(*text);
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) {
      t.pop_back();
    }
    if (t.empty()) {
      return fail(Code::Unavailable, "reading the kubelet token " + ep.tokenPath + ": empty");
    }
    token = std::move(t);
    tokenStamp = now;
  }
  return token;
}

template <class Stream>
Result<std::string> HttpKubeletClient::Impl::exchange(asio::io_context& ioc, Stream& stream,
                                                      beast::tcp_stream& tcpLayer,
                                                      Deadline deadline) const {
  http::request<http::empty_body> req{http::verb::get, "/pods", 11};
  req.set(http::field::host, hostPort());
  req.set(http::field::user_agent, "lanyardd");
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (ep.tls && !ep.tokenPath.empty()) {
    LANYARD_TRY(std::string bearer, bearerToken());
    req.set(http::field::authorization, "Bearer " + bearer);
  }
  tcpLayer.expires_at(deadline);
  if (auto ec = runOne(ioc, [&](auto h) { http::async_write(stream, req, h); })) {
    return fail(Code::Unavailable, "GET " + url() + ": sending the request: " + describe(ec));
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(ep.maxResponseBytes);
  // Kubelets answer chunked: without a length the body string would grow by doubling and
  // copying; the previous answer's size (plus a margin) is a good guess for this one.
  if (size_t hint = lastBodySize.load(std::memory_order_relaxed); hint > 0) {
    parser.get().body().reserve(std::min<uint64_t>(hint + hint / 8, ep.maxResponseBytes));
  }
  auto ec = runOne(ioc, [&](auto h) { http::async_read_header(stream, buffer, parser, h); });
  // Checked here as well as by body_limit (which Boost 1.74 did not apply to a declared
  // Content-Length in our tests): the string body reserves what the header announces.
  if (!ec && parser.content_length() && *parser.content_length() > ep.maxResponseBytes) {
    ec = http::error::body_limit;
  }
  if (!ec) {
    ec = runOne(ioc, [&](auto h) { http::async_read(stream, buffer, parser, h); });
  }
  if (ec == http::error::body_limit || ec == http::error::header_limit) {
    return fail(Code::ResourceExhausted, "GET " + url() + ": the answer is larger than " +
                                             std::to_string(ep.maxResponseBytes) + " bytes");
  }
  if (ec) {
    return fail(Code::Unavailable, "GET " + url() + ": reading the answer: " + describe(ec));
  }
  auto& res = parser.get();
  if (res.result() != http::status::ok) {
    return fail(Code::Unavailable, "GET " + url() + ": the kubelet answered " +
                                       std::to_string(res.result_int()) + " " +
                                       std::string(res.reason()));
  }
  std::string body = std::move(res.body());
  if (body.size() > ep.maxResponseBytes) {
    return fail(Code::ResourceExhausted, "GET " + url() + ": the answer is larger than " +
                                             std::to_string(ep.maxResponseBytes) + " bytes");
  }
  lastBodySize.store(body.size(), std::memory_order_relaxed);
  return body;
}

Result<std::string> HttpKubeletClient::Impl::fetch(Deadline deadline) const {
  asio::io_context ioc(1);
  error_code ec;
  tcp::resolver::results_type endpoints;
  auto address = asio::ip::make_address(ep.host, ec);
  if (!ec) {
    endpoints = tcp::resolver::results_type::create(tcp::endpoint(address, ep.port), ep.host,
                                                    std::to_string(ep.port));
  } else {
    tcp::resolver resolver(ioc);
    endpoints = resolver.resolve(ep.host, std::to_string(ep.port), ec);
    if (ec) {
      return fail(Code::Unavailable,
                  "GET " + url() + ": resolving " + ep.host + ": " + ec.message());
    }
  }
  if (!ep.tls) {
    beast::tcp_stream stream(ioc);
    stream.expires_at(deadline);
    if (auto e = runOne(ioc, [&](auto h) { stream.async_connect(endpoints, h); })) {
      return fail(Code::Unavailable, "GET " + url() + ": connecting: " + describe(e));
    }
    return exchange(ioc, stream, stream, deadline);
  }
  LANYARD_TRY(auto ctx, tlsContext());
  beast::ssl_stream<beast::tcp_stream> stream(ioc, *ctx);
  auto& tcpLayer = beast::get_lowest_layer(stream);
  tcpLayer.expires_at(deadline);
  if (auto e = runOne(ioc, [&](auto h) { tcpLayer.async_connect(endpoints, h); })) {
    return fail(Code::Unavailable, "GET " + url() + ": connecting: " + describe(e));
  }
  const std::string& name = ep.serverName.empty() ? ep.host : ep.serverName;
  SSL* ssl_handle = stream.native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
  if (asio::ip::make_address(name, ec); !ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_handle, name.c_str());
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  }
  if (auto e =
          runOne(ioc, [&](auto h) { stream.async_handshake(asio::ssl::stream_base::client, h); })) {
    return fail(Code::Unavailable, "GET " + url() + ": TLS handshake: " + describe(e));
  }
  return exchange(ioc, stream, tcpLayer, deadline);
}

std::unique_ptr<HttpKubeletClient> HttpKubeletClient::create(KubeletEndpoint endpoint) {
  auto impl = std::make_unique<Impl>();
  impl->ep = std::move(endpoint);
  return std::unique_ptr<HttpKubeletClient>(new HttpKubeletClient(std::move(impl)));
}

Result<void> HttpKubeletClient::checkFiles() const {
  if (!impl_->ep.tls) {
    return {};
  }
  if (!impl_->ep.tokenPath.empty()) {
    LANYARD_TRY_VOID(impl_->bearerToken());
  }
  LANYARD_TRY_VOID(impl_->tlsContext());
  return {};
}

HttpKubeletClient::HttpKubeletClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpKubeletClient::~HttpKubeletClient() = default;

Result<std::string> HttpKubeletClient::fetchPods(Deadline deadline) const {
  if (std::chrono::steady_clock::now() >= deadline) {
    return fail(Code::Unavailable, "GET " + url() + ": deadline exceeded");
  }
  return impl_->fetch(deadline);
}

std::string HttpKubeletClient::url() const { return impl_->url(); }

}  // namespace lanyard::attestors::k8s
