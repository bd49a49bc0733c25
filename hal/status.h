// Status and Result: the error currency inside hal/ and firmware/.
// Canonical codes follow pw_status / absl (no exceptions across the HAL).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace edgeforge {

enum class StatusCode {
  kOk = 0,
  kCancelled,           // the caller gave up
  kUnknown,             // an error with no better code
  kInvalidArgument,     // bad input regardless of system state (config, names)
  kDeadlineExceeded,    // a timeout passed
  kNotFound,            // a file, device node or key does not exist
  kAlreadyExists,       // refusing to overwrite something that exists
  kPermissionDenied,    // filesystem or broker refused
  kResourceExhausted,   // a bound was reached (queue, buffer)
  kFailedPrecondition,  // the system is not in a state for this call
  kOutOfRange,          // a value outside its valid range
  kUnimplemented,       // not supported by this backend
  kInternal,            // a library invariant broke
  kUnavailable,         // transient: retry may succeed (bus NACK, broker down)
  kDataLoss,            // corrupt or truncated data
  kUnauthenticated,     // signature or certificate did not verify
};

/// Short stable name of a code ("INVALID_ARGUMENT"), for logs and reports.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "INVALID_ARGUMENT: <message>", or "OK".
  std::string ToString() const;
  /// Prefixes the message with context ("certs/ca.key: " + message), keeping the code.
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }

/// A value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Internal("Result constructed from OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace edgeforge

/// Returns early from a function returning Status or Result<T> when `expr` fails.
#define EF_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::edgeforge::Status ef_status_ = (expr);     \
    if (!ef_status_.ok()) return ef_status_;     \
  } while (0)
