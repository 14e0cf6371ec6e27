// SPDX-License-Identifier: Apache-2.0
// Out-of-line pieces of Result: code names and the abort paths for broken invariants.
#include "common/result.h"

#include <cstdio>
#include <cstdlib>

namespace lanyard {

const char* codeName(Code code) {
  switch (code) {
    case Code::Ok:
      return "ok";
    case Code::Cancelled:
      return "cancelled";
    case Code::Unknown:
      return "unknown";
    case Code::InvalidArgument:
      return "invalid_argument";
    case Code::DeadlineExceeded:
      return "deadline_exceeded";
    case Code::NotFound:
      return "not_found";
    case Code::AlreadyExists:
      return "already_exists";
    case Code::PermissionDenied:
      return "permission_denied";
    case Code::ResourceExhausted:
      return "resource_exhausted";
    case Code::FailedPrecondition:
      return "failed_precondition";
    case Code::Aborted:
      return "aborted";
    case Code::OutOfRange:
      return "out_of_range";
    case Code::Unimplemented:
      return "unimplemented";
    case Code::Internal:
      return "internal";
    case Code::Unavailable:
      return "unavailable";
    case Code::DataLoss:
      return "data_loss";
    case Code::Unauthenticated:
      return "unauthenticated";
  }
  return "unknown";
}

void resultAccessFailed(const Error& error) {
  std::fprintf(stderr, "lanyard: bug: value() of a failed Result (%s: %s)\n", codeName(error.code),
               error.message.c_str());
  std::abort();
}

void resultErrorOfSuccess() {
  std::fprintf(stderr, "lanyard: bug: error() of a successful Result\n");
  std::abort();
}

void assertFailed(const char* cond, const char* why, const char* file, int line) {
  std::fprintf(stderr, "lanyard: assertion failed at %s:%d: %s (%s)\n", file, line, cond, why);
  std::abort();
}

}  // namespace lanyard
