// SPDX-License-Identifier: Apache-2.0
// `lanyard api watch`: one line per X.509 context update until SIGINT/SIGTERM (WAPI-6, WAPI-16).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/output.h"

namespace lanyard::cli {
namespace {

using nlohmann::json;

void printUpdate(const workload_api::X509Context& ctx, bool asJson) {
  std::string now = rfc3339(SystemClock::instance().now());
  json doc{{"time", now}, {"svids", json::array()}};
  std::string line = now + " update:";
  for (size_t i = 0; i < ctx.svids.size(); ++i) {
    const auto& s = ctx.svids[i].svid;
    std::string notAfter = rfc3339(s.notAfter);
    doc["svids"].push_back({{"spiffe_id", s.id.str()}, {"not_after", notAfter}});
    line += (i == 0 ? " " : ", ") + s.id.str() + " (not after " + notAfter + ")";
  }
  if (asJson) {
    printJson(doc, true);
  } else {
    printText(line + "\n");
  }
}

}  // namespace

Result<void> watch(const CommonOptions& options) {
  // Block the signals before gRPC starts its threads, so only sigtimedwait() below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  LANYARD_TRY(auto client, connect(options));
  std::atomic<bool> done{false};
  std::optional<Error> ended;  // written by the watch thread before `done`
  std::jthread watcher([&](std::stop_token stop) {
    auto r = client->watchX509Context(
        stop, [&](workload_api::X509Context ctx) { printUpdate(ctx, options.json()); },
        [](const Error& e) { std::fprintf(stderr, "lanyard: %s\n", e.message.c_str()); });
    if (!r) {
      ended = r.error();
    }
    done = true;
  });
  const timespec tick{0, 100'000'000};
  while (!done) {
    siginfo_t info;
    if (sigtimedwait(&signals, &info, &tick) > 0) {
      break;  // SIGINT or SIGTERM: a clean stop
    }
  }
  watcher.request_stop();
  watcher.join();
  if (ended) {
    return fail(*ended);
  }
  return {};
}

}  // namespace lanyard::cli
