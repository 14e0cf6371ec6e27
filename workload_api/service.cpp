// SPDX-License-Identifier: Apache-2.0
// WorkloadService: header check, attestation on the pool, and the five RPCs' answers.
#include "workload_api/service.h"

#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "workload_api/messages.h"
#include "workload_api/push_stream.h"

namespace lanyard::workload_api {
namespace {

constexpr std::string_view kHeaderKey = "workload.spiffe.io";

attestors::Deadline deadlineFor(const ServiceContext& ctx) {
  return std::chrono::steady_clock::now() + ctx.attestTimeout;
}

// Starts a stream with its producer; the reactor owns itself until OnDone.
template <class Response>
grpc::ServerWriteReactor<Response>* startStream(ServiceContext& ctx,
                                                grpc::CallbackServerContext* call,
                                                std::unique_ptr<StreamProducer<Response>> producer,
                                                const char* method) {
  auto stream = std::make_shared<PushStream<Response>>(ctx, std::move(producer), method);
  return stream->start(call);
}

}  // namespace

grpc::Status checkSecurityHeader(const grpc::CallbackServerContext& call) {
  const auto& md = call.client_metadata();
  auto [begin, end] = md.equal_range(grpc::string_ref(kHeaderKey.data(), kHeaderKey.size()));
  if (begin == end) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "security header missing from request"};
  }
  // SPIRE also insists on exactly one value (endpoints/middleware.go).
  if (std::next(begin) != end || begin->second != "true") {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "security header workload.spiffe.io must have the single value \"true\""};
  }
  return grpc::Status::OK;
}

grpc::Status toStatus(const Error& error) {
  return {static_cast<grpc::StatusCode>(error.code), error.message};
}

DenyReason sourceDenyReason(const Error& error) {
  return error.code == Code::PermissionDenied ? DenyReason::NoIdentity : DenyReason::Unavailable;
}

namespace {

void logSelectors(const attestors::Caller& caller, const Selectors& selectors, bool reused) {
  auto log = log::get("workload_api");
  if (!log->should_log(spdlog::level::debug)) {
    return;
  }
  std::string text;
  for (const auto& s : selectors) {
    text += (text.empty() ? "" : " ") + s.str();
  }
  log->debug("{} pid {} uid {}: {}", reused ? "reusing attestation of" : "attested", caller.pid,
             caller.uid, text);
}

std::string pidText(const attestors::Caller& caller) {
  return "attesting pid " + std::to_string(caller.pid);
}

// Ends a unary call with an error status, counted by reason (docs/metrics.md).
void deny(ServiceContext& ctx, grpc::ServerUnaryReactor* reactor, DenyReason reason,
          grpc::Status status) {
  ctx.metrics.denied(reason, status);
  reactor->Finish(status);
}

}  // namespace

Result<Selectors> attestPeer(const ServiceContext& ctx, const std::string& peer) {
  auto fd = fdFromPeerString(peer);
  auto found = fd ? ctx.peers.find(*fd) : std::nullopt;
  if (!found) {
    // Only our acceptor adds connections; anything else is a caller we cannot name.
    return fail(Code::Unavailable, "identifying caller: connection " + peer + " is not known");
  }
  const attestors::Caller caller = found->caller();
  AttestationCache& cache = *found->cache;
  auto stamp = ctx.attestation.processStamp(caller);
  if (!stamp) {
    return fail(stamp.error().wrap(pidText(caller)));
  }
  if (stamp->uid != caller.uid) {
    return fail(Code::PermissionDenied, pidText(caller) + ": caller changed uid from " +
                                            std::to_string(caller.uid) + " to " +
                                            std::to_string(stamp->uid) + " since it connected");
  }
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(cache.mu);
    if (cache.selectors && cache.stamp == stamp->key && now - cache.at < ctx.attestationReuse) {
      Selectors selectors = *cache.selectors;
      if (auto same = ctx.attestation.confirmSameProcess(caller, found->startTime); !same) {
        cache.selectors.reset();
        return fail(same.error().wrap(pidText(caller)));
      }
      logSelectors(caller, selectors, true);
      return selectors;
    }
  }
  auto selectors = ctx.attestation.attest(caller, deadlineFor(ctx));
  if (!selectors) {
    return fail(Code::Unavailable, pidText(caller) + ": " + selectors.error().message);
  }
  if (auto same = ctx.attestation.confirmSameProcess(caller, found->startTime); !same) {
    return fail(same.error().wrap(pidText(caller)));
  }
  // The process must not have changed (exec, setuid) while it was being attested.
  auto after = ctx.attestation.processStamp(caller);
  if (!after || after->key != stamp->key) {
    return fail(Code::Unavailable, pidText(caller) + ": caller changed during attestation");
  }
  {
    std::lock_guard lock(cache.mu);
    cache.selectors = *selectors;
    cache.stamp = stamp->key;
    cache.at = now;
  }
  logSelectors(caller, *selectors, false);
  return selectors;
}

grpc::ServerWriteReactor<X509SVIDResponse>* WorkloadService::FetchX509SVID(
    grpc::CallbackServerContext* call, const X509SVIDRequest* /*request*/) {
  return startStream(ctx_, call, makeX509SvidProducer(), "FetchX509SVID");
}

grpc::ServerWriteReactor<X509BundlesResponse>* WorkloadService::FetchX509Bundles(
    grpc::CallbackServerContext* call, const X509BundlesRequest* /*request*/) {
  return startStream(ctx_, call, makeX509BundlesProducer(), "FetchX509Bundles");
}

grpc::ServerWriteReactor<JWTBundlesResponse>* WorkloadService::FetchJWTBundles(
    grpc::CallbackServerContext* call, const JWTBundlesRequest* /*request*/) {
  return startStream(ctx_, call, makeJwtBundlesProducer(), "FetchJWTBundles");
}

grpc::ServerUnaryReactor* WorkloadService::FetchJWTSVID(grpc::CallbackServerContext* call,
                                                        const JWTSVIDRequest* request,
                                                        JWTSVIDResponse* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  if (grpc::Status header = checkSecurityHeader(*call); !header.ok()) {
    deny(ctx_, reactor, DenyReason::SecurityHeader, header);
    return reactor;
  }
  auto parsed = parseJwtSvidRequest(*request);
  if (!parsed) {
    deny(ctx_, reactor, DenyReason::InvalidRequest, toStatus(parsed.error()));
    return reactor;
  }
  ctx_.pool.post([this, reactor, response, peer = call->peer(), req = std::move(*parsed)] {
    auto selectors = attestPeer(ctx_, peer);
    if (!selectors) {
      deny(ctx_, reactor, DenyReason::Attestation, toStatus(selectors.error()));
      return;
    }
    auto svids = ctx_.source.jwtSvids(*selectors, req.audience, req.only);
    if (!svids) {
      log::get("workload_api")->debug("FetchJWTSVID: {}", svids.error().message);
      deny(ctx_, reactor, sourceDenyReason(svids.error()), toStatus(svids.error()));
      return;
    }
    fillJwtSvidResponse(*svids, *response);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* WorkloadService::ValidateJWTSVID(grpc::CallbackServerContext* call,
                                                           const ValidateJWTSVIDRequest* request,
                                                           ValidateJWTSVIDResponse* response) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  if (grpc::Status header = checkSecurityHeader(*call); !header.ok()) {
    deny(ctx_, reactor, DenyReason::SecurityHeader, header);
    return reactor;
  }
  // WAPI-5: both fields are mandatory.
  if (request->audience().empty()) {
    deny(ctx_, reactor, DenyReason::InvalidRequest,
         {grpc::StatusCode::INVALID_ARGUMENT, "audience must be specified"});
    return reactor;
  }
  if (request->svid().empty()) {
    deny(ctx_, reactor, DenyReason::InvalidRequest,
         {grpc::StatusCode::INVALID_ARGUMENT, "svid must be specified"});
    return reactor;
  }
  ctx_.pool.post([this, reactor, request, response, peer = call->peer()] {
    auto selectors = attestPeer(ctx_, peer);
    if (!selectors) {
      deny(ctx_, reactor, DenyReason::Attestation, toStatus(selectors.error()));
      return;
    }
    auto bundles = ctx_.source.validationBundles(*selectors);
    if (!bundles) {
      deny(ctx_, reactor, sourceDenyReason(bundles.error()), toStatus(bundles.error()));
      return;
    }
    auto jwt =
        ctx_.validations.validate(request->svid(), *bundles, request->audience(), ctx_.clock.now());
    if (!jwt) {
      // WAPI-5: every validation failure is INVALID_ARGUMENT; the reason never echoes the token.
      log::get("workload_api")->debug("ValidateJWTSVID: {}", jwt.error().message);
      deny(ctx_, reactor, DenyReason::InvalidToken,
           {grpc::StatusCode::INVALID_ARGUMENT, jwt.error().message});
      return;
    }
    fillValidateResponse(*jwt, *response);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace lanyard::workload_api
