// SPDX-License-Identifier: Apache-2.0
// KubeletClient: fetches the kubelet's /pods answer, over the read-only port (plain HTTP) or
// the secure port (HTTPS with a Bearer token), within a deadline and a size bound.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "attestors/attestor.h"
#include "common/result.h"

namespace lanyard::attestors::k8s {

/// Where the pod list comes from. Owned by the k8s attestor; fetchPods() is const and may be
/// called from many threads at once (PodListCache calls it from one at a time).
class KubeletClient {
 public:
  virtual ~KubeletClient() = default;

  /// The body of GET /pods. Fails with Unavailable (the kubelet is unreachable, answered
  /// other than 200, or the deadline passed) or ResourceExhausted (the answer is larger than
  /// the configured bound); the message names the URL.
  virtual Result<std::string> fetchPods(Deadline deadline) const = 0;

  /// "http://127.0.0.1:10255/pods", for messages.
  virtual std::string url() const = 0;
};

/// How to reach the kubelet (validated by config.cpp).
struct KubeletEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 10250;
  /// HTTPS with a Bearer token (the secure port); plain HTTP otherwise (the read-only port).
  bool tls = true;
  /// PEM CA bundle that signed the kubelet's serving certificate (tls and verification on).
  std::string caPath;
  /// Do not verify the kubelet's certificate at all (SPIRE's skip_kubelet_verification).
  bool skipVerification = false;
  /// The name the kubelet's certificate must carry; empty means `host`.
  std::string serverName;
  /// The service-account token sent as "Authorization: Bearer"; re-read when the file
  /// changes (projected tokens rotate). Empty: no Authorization header.
  std::string tokenPath;
  /// Answers larger than this fail with ResourceExhausted.
  uint64_t maxResponseBytes = uint64_t{64} << 20;
};

/// The real client: Boost.Beast over Boost.Asio (OpenSSL for HTTPS), one connection per
/// fetch. The CA bundle and the token are read at the first fetch and again whenever their
/// files change, so the agent starts before they are mounted and follows their rotation.
class HttpKubeletClient final : public KubeletClient {
 public:
  static std::unique_ptr<HttpKubeletClient> create(KubeletEndpoint endpoint);
  ~HttpKubeletClient() override;

  /// For the secure port: reads the token and loads the CA now. Unavailable, naming the file,
  /// when either cannot be read (the factory logs it as a warning; fetches retry).
  Result<void> checkFiles() const;

  Result<std::string> fetchPods(Deadline deadline) const override;
  std::string url() const override;

 private:
  struct Impl;
  explicit HttpKubeletClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lanyard::attestors::k8s
