// SPDX-License-Identifier: Apache-2.0
// The floor server: BenchEcho on gRPC's callback API with nothing of Lanyard's in the path.
#include "bare_server.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "bench_echo.grpc.pb.h"

namespace lanyard::bench {
namespace {

// One open stream: writes its message once, then waits for the client to go away. Owns
// itself until OnDone, like lanyardd's PushStream.
class WatchReactor final : public grpc::ServerWriteReactor<WatchReply> {
 public:
  explicit WatchReactor(uint32_t size) {
    reply_.set_payload(std::string(size, 'x'));
    StartWrite(&reply_);
  }
  void OnWriteDone(bool /*ok*/) override {}
  void OnCancel() override { Finish(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }

 private:
  WatchReply reply_;
};

class EchoService final : public BenchEcho::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* call, const EchoRequest* request,
                                 EchoReply* reply) override {
    reply->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<WatchReply>* Watch(grpc::CallbackServerContext* /*call*/,
                                              const WatchRequest* request) override {
    return new WatchReactor(request->size());
  }
};

}  // namespace

int runBareServer(const std::string& socketPath) {
  ::unlink(socketPath.c_str());
  EchoService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socketPath, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "bare server: cannot listen on %s\n", socketPath.c_str());
    return 1;
  }
  server->Wait();  // until SIGTERM ends the process
  return 0;
}

}  // namespace lanyard::bench
