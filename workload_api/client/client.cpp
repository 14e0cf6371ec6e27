// SPDX-License-Identifier: Apache-2.0
// Client: channel setup and the one-shot Workload API calls (FetchX509SVID's first message,
// FetchJWTSVID, ValidateJWTSVID, bundles, health).
#include "workload_api/client/client.h"

#include <chrono>
#include <string>
#include <utility>

#include "workload_api/client/client_stubs.h"
#include "workload_api/client/proto_convert.h"

namespace lanyard::workload_api {
namespace {

// Server text goes into our messages: keep it on one line and bounded.
std::string sanitize(std::string_view s) {
  constexpr size_t kMax = 1024;
  std::string out;
  for (char c : s.substr(0, kMax)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > kMax) {
    out += "...";
  }
  return out;
}

void setDeadline(grpc::ClientContext& context, const ClientOptions& options) {
  context.set_deadline(std::chrono::system_clock::now() + options.timeout);
}

// The first message of a server stream, then the call is cancelled: a one-shot fetch.
template <typename Response, typename Start>
Result<Response> firstMessage(const Start& start, const ClientOptions& options,
                              const std::string& context) {
  grpc::ClientContext ctx;
  addSecurityHeader(ctx);
  setDeadline(ctx, options);
  auto reader = start(&ctx);
  Response response;
  if (reader->Read(&response)) {
    ctx.TryCancel();
    (void)reader->Finish();
    return response;
  }
  grpc::Status status = reader->Finish();
  if (status.ok()) {
    return fail(Code::Unavailable, context + ": the server ended the stream without a message");
  }
  return fail(callError(status, context));
}

}  // namespace

void addSecurityHeader(grpc::ClientContext& context) {
  context.AddMetadata(kSecurityHeader, "true");
}

Error callError(const grpc::Status& status, std::string_view context) {
  auto code = static_cast<Code>(status.error_code());
  std::string words = codeName(code);
  for (char& c : words) {
    c = c == '_' ? ' ' : c;
  }
  std::string message = std::string(context) + ": " + words;
  if (!status.error_message().empty()) {
    message += ": " + sanitize(status.error_message());
  }
  return Error{code, std::move(message)};
}

Result<std::unique_ptr<Client>> Client::create(std::string_view address, ClientOptions options) {
  LANYARD_TRY(Endpoint endpoint, parseEndpointAddress(address));
  return create(std::move(endpoint), options);
}

Result<std::unique_ptr<Client>> Client::create(Endpoint endpoint, ClientOptions options) {
  if (options.timeout.count() <= 0 || options.backoffInitial.count() <= 0 ||
      options.backoffMax < options.backoffInitial) {
    return fail(Code::InvalidArgument,
                "creating a Workload API client: timeout and backoff must be positive, with "
                "backoffMax at least backoffInitial");
  }
  grpc::ChannelArguments args;
  // Let the channel's own reconnect attempts keep pace with the watch backoff (WAPI-16).
  auto ms = [](std::chrono::milliseconds d) { return static_cast<int>(d.count()); };
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, ms(options.backoffInitial));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, ms(options.backoffInitial));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ms(options.backoffMax));
  auto stubs = std::make_unique<Stubs>();
  // Plaintext HTTP/2 (WAPI-18, EP-2).
  stubs->channel =
      grpc::CreateCustomChannel(endpoint.target, grpc::InsecureChannelCredentials(), args);
  stubs->workload = SpiffeWorkloadAPI::NewStub(stubs->channel);
  stubs->health = grpc::health::v1::Health::NewStub(stubs->channel);
  return std::unique_ptr<Client>(new Client(std::move(endpoint), options, std::move(stubs)));
}

Client::Client(Endpoint endpoint, ClientOptions options, std::unique_ptr<Stubs> stubs)
    : endpoint_(std::move(endpoint)), options_(options), stubs_(std::move(stubs)) {}

Client::~Client() = default;

Result<X509Context> Client::fetchX509Context() const {
  std::string context = "fetching X.509-SVIDs from " + endpoint_.address;
  LANYARD_TRY(X509SVIDResponse response, firstMessage<X509SVIDResponse>(
                                             [this](grpc::ClientContext* ctx) {
                                               return stubs_->workload->FetchX509SVID(
                                                   ctx, X509SVIDRequest());
                                             },
                                             options_, context));
  auto parsed = proto::toX509Context(response);
  if (!parsed) {
    return fail(parsed.error().wrap(context));
  }
  return parsed;
}

Result<svid::BundleMap> Client::fetchX509Bundles() const {
  std::string context = "fetching X.509 bundles from " + endpoint_.address;
  LANYARD_TRY(X509BundlesResponse response, firstMessage<X509BundlesResponse>(
                                                [this](grpc::ClientContext* ctx) {
                                                  return stubs_->workload->FetchX509Bundles(
                                                      ctx, X509BundlesRequest());
                                                },
                                                options_, context));
  auto parsed = proto::toX509Bundles(response);
  if (!parsed) {
    return fail(parsed.error().wrap(context));
  }
  return parsed;
}

Result<svid::BundleMap> Client::fetchJwtBundles() const {
  std::string context = "fetching JWT bundles from " + endpoint_.address;
  LANYARD_TRY(JWTBundlesResponse response, firstMessage<JWTBundlesResponse>(
                                               [this](grpc::ClientContext* ctx) {
                                                 return stubs_->workload->FetchJWTBundles(
                                                     ctx, JWTBundlesRequest());
                                               },
                                               options_, context));
  auto parsed = proto::toJwtBundles(response);
  if (!parsed) {
    return fail(parsed.error().wrap(context));
  }
  return parsed;
}

Result<std::vector<JwtIdentity>> Client::fetchJwtSvids(
    const std::vector<std::string>& audiences,
    const std::optional<svid::SpiffeId>& spiffeId) const {
  std::string context = "fetching JWT-SVIDs from " + endpoint_.address;
  if (audiences.empty()) {
    return fail(Code::InvalidArgument, context + ": at least one audience is required");
  }
  JWTSVIDRequest request;
  for (const auto& a : audiences) {
    request.add_audience(a);
  }
  if (spiffeId) {
    request.set_spiffe_id(spiffeId->str());
  }
  grpc::ClientContext ctx;
  addSecurityHeader(ctx);
  setDeadline(ctx, options_);
  JWTSVIDResponse response;
  grpc::Status status = stubs_->workload->FetchJWTSVID(&ctx, request, &response);
  if (!status.ok()) {
    return fail(callError(status, context));
  }
  auto parsed = proto::toJwtIdentities(response, audiences);
  if (!parsed) {
    return fail(parsed.error().wrap(context));
  }
  return parsed;
}

Result<ValidatedJwt> Client::validateJwtSvid(std::string_view token,
                                             std::string_view audience) const {
  std::string context = "validating a JWT-SVID with " + endpoint_.address;
  ValidateJWTSVIDRequest request;
  request.set_audience(std::string(audience));
  request.set_svid(std::string(token));
  grpc::ClientContext ctx;
  addSecurityHeader(ctx);
  setDeadline(ctx, options_);
  ValidateJWTSVIDResponse response;
  grpc::Status status = stubs_->workload->ValidateJWTSVID(&ctx, request, &response);
  if (!status.ok()) {
    return fail(callError(status, context));
  }
  auto id = svid::SpiffeId::parse(response.spiffe_id());
  if (!id) {
    return fail(id.error().wrap(context + ": the response's spiffe_id"));
  }
  return ValidatedJwt{std::move(*id), proto::toJson(response.claims())};
}

Result<void> Client::checkHealth() const {
  std::string context = "checking the health of " + endpoint_.address;
  grpc::health::v1::HealthCheckRequest request;  // service "": the server as a whole
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext ctx;
  setDeadline(ctx, options_);
  grpc::Status status = stubs_->health->Check(&ctx, request, &response);
  if (!status.ok()) {
    return fail(callError(status, context));
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return fail(Code::Unavailable,
                context + ": status " +
                    grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()));
  }
  return {};
}

}  // namespace lanyard::workload_api
