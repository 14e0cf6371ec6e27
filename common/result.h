// SPDX-License-Identifier: Apache-2.0
// Result<T>: a value or an Error, with std::expected's member names (STYLE.md §4).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace lanyard {

/// Error codes mirror gRPC's canonical codes so they map 1:1 onto grpc::Status.
enum class Code {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
};

/// The canonical lower-case name of a code ("invalid_argument").
const char* codeName(Code code);

/// An error: a code and a message that reads "doing what: what went wrong".
struct Error {
  Code code = Code::Unknown;
  std::string message;

  /// Returns a copy whose message is prefixed with "context: ".
  [[nodiscard]] Error wrap(std::string_view context) const {
    return Error{code, std::string(context) + ": " + message};
  }
};

[[noreturn]] void resultErrorOfSuccess();
#define LANYARD_RESULT_ASSERT_ERROR(cond) \
  do {                                    \
    if (!(cond)) {                        \
      ::lanyard::resultErrorOfSuccess();  \
    }                                     \
  } while (false)

/// Wrapper used to construct a failed Result, like std::unexpected.
struct Unexpected {
  Error error;
};

[[nodiscard]] inline Unexpected fail(Code code, std::string message) {
  return Unexpected{Error{code, std::move(message)}};
}
[[nodiscard]] inline Unexpected fail(Error error) { return Unexpected{std::move(error)}; }

/// A T or an Error. Accessing value() of a failed result is a bug and aborts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}         // NOLINT: implicit
  Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT: implicit

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return checkError(), std::get<1>(v_); }
  Error&& error() && { return checkError(), std::get<1>(std::move(v_)); }

 private:
  void check() const;
  void checkError() const { LANYARD_RESULT_ASSERT_ERROR(v_.index() == 1); }
  std::variant<T, Error> v_;
};

/// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : error_(std::move(u.error)), ok_(false) {}  // NOLINT: implicit

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    LANYARD_RESULT_ASSERT_ERROR(!ok_);
    return error_;
  }
  Error&& error() && {
    LANYARD_RESULT_ASSERT_ERROR(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

[[noreturn]] void resultAccessFailed(const Error& error);

template <typename T>
void Result<T>::check() const {
  if (v_.index() != 0) {
    resultAccessFailed(std::get<1>(v_));
  }
}

}  // namespace lanyard

#define LANYARD_CONCAT_INNER(a, b) a##b
#define LANYARD_CONCAT(a, b) LANYARD_CONCAT_INNER(a, b)

// LANYARD_TRY(auto x, expr): evaluates expr (a Result); on failure returns its error from the
// enclosing function, otherwise binds the value to the declaration.
#define LANYARD_TRY(decl, expr) LANYARD_TRY_IMPL(LANYARD_CONCAT(lanyard_try_, __LINE__), decl, expr)
#define LANYARD_TRY_IMPL(tmp, decl, expr)                 \
  auto tmp = (expr);                                      \
  if (!tmp.has_value()) {                                 \
    return ::lanyard::Unexpected{std::move(tmp).error()}; \
  }                                                       \
  decl = std::move(tmp).value()

// LANYARD_TRY_VOID(expr): for Result<void>.
#define LANYARD_TRY_VOID(expr)                                        \
  do {                                                                \
    auto lanyard_try_v = (expr);                                      \
    if (!lanyard_try_v.has_value()) {                                 \
      return ::lanyard::Unexpected{std::move(lanyard_try_v).error()}; \
    }                                                                 \
  } while (false)

// LANYARD_ASSERT(cond, why): a broken invariant is a bug; log and abort.
#define LANYARD_ASSERT(cond, why)                              \
  do {                                                         \
    if (!(cond)) {                                             \
      ::lanyard::assertFailed(#cond, why, __FILE__, __LINE__); \
    }                                                          \
  } while (false)

namespace lanyard {
[[noreturn]] void assertFailed(const char* cond, const char* why, const char* file, int line);
}  // namespace lanyard
