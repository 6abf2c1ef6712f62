// Status and Result<T>: expected failures as values (bad input, rejects, I/O).
//
// A Status is either OK or carries a code and a message that names what went wrong
// (file, line, field and value where there is one). Result<T> holds a T or a non-OK Status.
// Both are cheap to move and are [[nodiscard]]: ignoring one is a compile warning.
// Thread-compatible: distinct objects may be used from distinct threads.
#pragma once

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace aits {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller's input is wrong (a flag, a config value, a data row)
  kNotFound,         // a file or a named thing does not exist
  kDataLoss,         // a file is truncated or corrupt
  kFailedPrecondition,
  kOutOfRange,
  kUnimplemented,
  kIoError,
  kInternal,
  kUnavailable,       // a server or service cannot be reached now; retrying later may succeed
  kDeadlineExceeded,  // a call did not finish within its timeout; its effect is unknown
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "context: message"; OK stays OK.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}
inline Status NotFound(std::string message) {
  return Status(StatusCode::kNotFound, std::move(message));
}
inline Status DataLoss(std::string message) {
  return Status(StatusCode::kDataLoss, std::move(message));
}
inline Status FailedPrecondition(std::string message) {
  return Status(StatusCode::kFailedPrecondition, std::move(message));
}
inline Status OutOfRange(std::string message) {
  return Status(StatusCode::kOutOfRange, std::move(message));
}
inline Status IoError(std::string message) {
  return Status(StatusCode::kIoError, std::move(message));
}
inline Status Internal(std::string message) {
  return Status(StatusCode::kInternal, std::move(message));
}
inline Status Unavailable(std::string message) {
  return Status(StatusCode::kUnavailable, std::move(message));
}
inline Status DeadlineExceeded(std::string message) {
  return Status(StatusCode::kDeadlineExceeded, std::move(message));
}

// Holds either a value or a non-OK Status. Constructing from an OK Status is a programmer error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like StatusOr.
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result constructed from an OK Status");
    if (status_.ok()) status_ = Internal("Result constructed from an OK Status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : status_;
  }

  // Precondition: ok(). Checked in every build: reading the value of an error is a programmer
  // error, and it aborts with the Status rather than returning garbage.
  T& value() & {
    CheckOk();
    return *value_;
  }
  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T&& value() && {
    CheckOk();
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void CheckOk() const {
    if (!value_.has_value()) [[unlikely]] {
      std::fprintf(stderr, "aits: value of an error Result: %s\n", status_.ToString().c_str());
      std::abort();
    }
  }

  std::optional<T> value_;
  Status status_;
};

}  // namespace aits

#define AITS_CONCAT_INNER(a, b) a##b
#define AITS_CONCAT(a, b) AITS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define AITS_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::aits::Status aits_status_ = (expr);        \
    if (!aits_status_.ok()) return aits_status_; \
  } while (0)

// AITS_ASSIGN_OR_RETURN(auto x, MakeX()); returns the Status if MakeX() failed.
#define AITS_ASSIGN_OR_RETURN(lhs, expr) \
  AITS_ASSIGN_OR_RETURN_IMPL(AITS_CONCAT(aits_result_, __LINE__), lhs, expr)
#define AITS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
