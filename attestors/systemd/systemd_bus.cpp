// SPDX-License-Identifier: Apache-2.0
// SystemdBus: GetUnitByPIDFD/GetUnitByPID and the unit's Id and FragmentPath over sd-bus,
// driven by hand (sd_bus_call_async, sd_bus_process, sd_bus_wait) so that no step waits past
// the caller's deadline, not even the connection's authentication and Hello.
#include "attestors/systemd/systemd_bus.h"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <utility>

#include <systemd/sd-bus.h>

#include "common/log.h"

namespace lanyard::attestors::systemd_unit {
namespace {

constexpr const char* kService = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";
constexpr const char* kProperties = "org.freedesktop.DBus.Properties";
constexpr const char* kNoUnitForPid = "org.freedesktop.systemd1.NoUnitForPID";

// Inside this file an Error's code says what kind of failure it was:
//   Unavailable       no bus, or nobody owns org.freedesktop.systemd1 (not an error upstream)
//   DeadlineExceeded  the deadline passed
//   Unimplemented     the method is unknown (GetUnitByPIDFD before systemd 249)
//   NotFound          systemd knows no unit for the process
//   Unknown           any other error systemd or the bus answered
constexpr Code kUnreachable = Code::Unavailable;

struct SlotUnref {
  void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};

std::string errnoText(int negativeErrno) { return std::strerror(-negativeErrno); }

// Microseconds left until `deadline`; 0 when it has passed.
uint64_t usecLeft(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<uint64_t>(left.count()) : 0;
}

Unexpected timedOut(std::string_view what) {
  return fail(Code::DeadlineExceeded, std::string(what) + ": timed out");
}

// Runs the connection until `done()` or the deadline. sd_bus_process() does one step;
// sd_bus_wait() sleeps until the socket or one of sd-bus's own timers needs attention.
template <typename Done>
Result<void> pump(sd_bus* bus, Deadline deadline, std::string_view what, Done done) {
  for (;;) {
    int r = sd_bus_process(bus, nullptr);
    if (done()) {
      return {};
    }
    if (r < 0) {
      return fail(kUnreachable, std::string(what) + ": " + errnoText(r));
    }
    if (r > 0) {
      continue;
    }
    uint64_t left = usecLeft(deadline);
    if (left == 0) {
      return timedOut(what);
    }
    r = sd_bus_wait(bus, left);
    if (r < 0 && r != -EINTR) {
      return fail(kUnreachable, std::string(what) + ": " + errnoText(r));
    }
  }
}

int storeReply(sd_bus_message* reply, void* userdata, sd_bus_error* /*error*/) {
  *static_cast<sd_bus_message**>(userdata) = sd_bus_message_ref(reply);
  return 1;
}

// Sorts an error reply into the kinds above.
Error classify(const sd_bus_error* error) {
  std::string name = error->name != nullptr ? error->name : "";
  std::string text = name + (error->message != nullptr ? std::string(": ") + error->message : "");
  // NoReply here is the bus saying that systemd left without answering, or sd-bus that the
  // connection closed: our own deadline always comes first (callLocked gives sd-bus 1 s more).
  if (name == SD_BUS_ERROR_SERVICE_UNKNOWN || name == SD_BUS_ERROR_NAME_HAS_NO_OWNER ||
      name == SD_BUS_ERROR_NO_REPLY || name == SD_BUS_ERROR_DISCONNECTED) {
    return Error{kUnreachable, text};
  }
  if (name == SD_BUS_ERROR_UNKNOWN_METHOD) {
    return Error{Code::Unimplemented, text};
  }
  if (name == kNoUnitForPid) {
    return Error{Code::NotFound, text};
  }
  return Error{Code::Unknown, text};
}

}  // namespace

void SystemdBus::BusCloser::operator()(sd_bus* bus) const {
  // Never sd_bus_flush_close_unref(): flushing may block with no deadline.
  sd_bus_close_unref(bus);
}

void SystemdBus::MessageUnref::operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }

SystemdBus::SystemdBus(std::string address) : address_(std::move(address)) {}

SystemdBus::~SystemdBus() = default;

std::string SystemdBus::where() const {
  return address_.empty() ? std::string("the system bus") : address_;
}

Result<void> SystemdBus::connectLocked(Deadline deadline) const {
  if (bus_ != nullptr && sd_bus_is_open(bus_.get()) > 0) {
    return {};
  }
  bus_.reset();
  pidfdUnknown_ = false;
  const std::string what = "connecting to " + where();
  sd_bus* raw = nullptr;
  int r = 0;
  if (address_.empty()) {
    r = sd_bus_open_system(&raw);
    bus_.reset(raw);
  } else {
    r = sd_bus_new(&raw);
    bus_.reset(raw);
    if (r >= 0) {
      r = sd_bus_set_address(raw, address_.c_str());
    }
    if (r >= 0) {
      r = sd_bus_set_bus_client(raw, 1);
    }
    if (r >= 0) {
      r = sd_bus_start(raw);
    }
  }
  if (r < 0) {
    bus_.reset();
    return fail(kUnreachable, what + ": " + errnoText(r));
  }
  // Authentication and Hello, within the deadline (sd_bus_call would wait for them unbounded).
  auto ready = pump(bus_.get(), deadline, what, [this] {
    return sd_bus_is_ready(bus_.get()) > 0 || !sd_bus_is_open(bus_.get());
  });
  if (!ready || sd_bus_is_ready(bus_.get()) <= 0) {
    bus_.reset();
    return ready ? fail(kUnreachable, what + ": the bus closed the connection") : ready;
  }
  return {};
}

Result<SystemdBus::MessagePtr> SystemdBus::callLocked(sd_bus_message* request,
                                                      Deadline deadline) const {
  const std::string what = std::string("calling ") + sd_bus_message_get_member(request);
  uint64_t left = usecLeft(deadline);
  if (left == 0) {
    return timedOut(what);
  }
  sd_bus_message* reply = nullptr;
  sd_bus_slot* rawSlot = nullptr;
  // sd-bus's own timeout is a second later than ours, so that pump() reports the deadline and
  // an sd-bus "timed out" NoReply is never mistaken for systemd leaving the bus.
  int r = sd_bus_call_async(bus_.get(), &rawSlot, request, storeReply, &reply, left + 1'000'000);
  std::unique_ptr<sd_bus_slot, SlotUnref> slot(rawSlot);  // unref cancels the callback
  if (r < 0) {
    return fail(r == -EOPNOTSUPP ? Code::Unimplemented : kUnreachable, what + ": " + errnoText(r));
  }
  auto done = pump(bus_.get(), deadline, what, [&reply] { return reply != nullptr; });
  MessagePtr owned(reply);
  if (!done) {
    return fail(done.error());
  }
  if (sd_bus_message_is_method_error(owned.get(), nullptr) > 0) {
    return fail(classify(sd_bus_message_get_error(owned.get())).wrap(what));
  }
  return owned;
}

Result<std::string> SystemdBus::unitPathLocked(const Caller& caller, Deadline deadline) const {
  // GetUnitByPIDFD names the very process the socket saw, even if its pid is reused since;
  // systemd before 249 does not have it, so GetUnitByPID is the fallback.
  const bool byPidfd = caller.pidfd >= 0 && !pidfdUnknown_;
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus_.get(), &raw, kService, kManagerPath, kManager,
                                         byPidfd ? "GetUnitByPIDFD" : "GetUnitByPID");
  MessagePtr request(raw);
  if (r >= 0) {
    r = byPidfd ? sd_bus_message_append(raw, "h", caller.pidfd)
                : sd_bus_message_append(raw, "u", static_cast<uint32_t>(caller.pid));
  }
  if (r < 0) {
    return fail(Code::Unknown, "building a GetUnitByPID call: " + errnoText(r));
  }
  auto reply = callLocked(raw, deadline);
  if (!reply && byPidfd && reply.error().code == Code::Unimplemented) {
    log::get("attestor.systemd")
        ->debug("{} has no GetUnitByPIDFD ({}): asking by pid", where(), reply.error().message);
    pidfdUnknown_ = true;
    return unitPathLocked(caller, deadline);
  }
  if (!reply) {
    return fail(reply.error());
  }
  const char* path = nullptr;
  r = sd_bus_message_read(reply->get(), "o", &path);
  if (r < 0) {
    return fail(Code::Unknown, std::string("reading the reply of ") +
                                   (byPidfd ? "GetUnitByPIDFD" : "GetUnitByPID") + ": " +
                                   errnoText(r));
  }
  return std::string(path);
}

Result<std::string> SystemdBus::propertyLocked(const std::string& unitPath, const char* name,
                                               Deadline deadline) const {
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus_.get(), &raw, kService, unitPath.c_str(), kProperties,
                                         "Get");
  MessagePtr request(raw);
  if (r >= 0) {
    r = sd_bus_message_append(raw, "ss", kUnit, name);
  }
  if (r < 0) {
    return fail(Code::Unknown,
                std::string("building a Get call for ") + name + ": " + errnoText(r));
  }
  auto reply = callLocked(raw, deadline);
  if (!reply) {
    return fail(reply.error().wrap(std::string("reading ") + name + " of " + unitPath));
  }
  const char* value = nullptr;
  r = sd_bus_message_read(reply->get(), "v", "s", &value);
  if (r < 0) {
    return fail(Code::Unknown, std::string("reading ") + name + " of " + unitPath +
                                   ": want a string: " + errnoText(r));
  }
  return std::string(value);
}

Result<UnitInfo> SystemdBus::lookupLocked(const Caller& caller, Deadline deadline) const {
  LANYARD_TRY_VOID(connectLocked(deadline));
  auto path = unitPathLocked(caller, deadline);
  if (!path && path.error().code == Code::NotFound) {
    return UnitInfo{};
  }
  if (!path) {
    return fail(path.error());
  }
  UnitInfo info;
  LANYARD_TRY(info.id, propertyLocked(*path, "Id", deadline));
  LANYARD_TRY(info.fragmentPath, propertyLocked(*path, "FragmentPath", deadline));
  return info;
}

Result<std::optional<UnitInfo>> SystemdBus::unitOf(const Caller& caller, Deadline deadline) const {
  const std::string doing =
      "asking systemd on " + where() + " for the unit of pid " + std::to_string(caller.pid);
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!lock.try_lock_until(deadline)) {
    return fail(Code::Unavailable, doing + ": timed out waiting for the D-Bus connection");
  }
  const bool reused = bus_ != nullptr;
  auto info = lookupLocked(caller, deadline);
  if (!info && info.error().code == kUnreachable && reused) {
    // A connection that worked last time broke since (the bus restarted): one fresh try.
    bus_.reset();
    info = lookupLocked(caller, deadline);
  }
  auto logger = log::get("attestor.systemd");
  if (!info && info.error().code == kUnreachable) {
    bus_.reset();  // a new connection next time, in case the bus comes back
    if (!outage_) {
      logger->info("{}: {}; systemd:fragment_path is left out until systemd answers", doing,
                   info.error().message);
      outage_ = true;
    } else {
      logger->debug("{}: {}", doing, info.error().message);
    }
    return std::optional<UnitInfo>();
  }
  if (!info) {
    if (info.error().code == Code::DeadlineExceeded) {
      bus_.reset();  // drop whatever is still in flight on it
    }
    return fail(Code::Unavailable, doing + ": " + info.error().message);
  }
  if (outage_) {
    logger->info("systemd answers on {} again", where());
    outage_ = false;
  }
  return std::optional<UnitInfo>(std::move(*info));
}

}  // namespace lanyard::attestors::systemd_unit
