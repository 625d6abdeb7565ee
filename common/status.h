#pragma once

// Status and Result<T>: errors as values. Every boundary that talks to a library which
// throws (yaml-cpp, msgpack-c, cppzmq) or to the network (gRPC) turns what happened into
// one of these; nothing above common/ sees an exception.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace btrq {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong (config, spec, flag, timestamp)
  kInvalidMessage,      // a peer's frame failed to decode or broke a limit
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // the state does not allow it (version mismatch, cancelled job)
  kOutOfRange,
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,   // a limit or quota, a full disk
  kUnavailable,         // a peer is unreachable or overloaded: transient
  kDeadlineExceeded,    // transient
  kCancelled,
  kAborted,
  kUnimplemented,
  kIoError,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() = default;
  Status(StatusCode code, std::string message, int32_t subcode = 0)
      : code_(code), subcode_(subcode), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status InvalidMessage(std::string msg) { return {StatusCode::kInvalidMessage, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
  static Status OutOfRange(std::string msg) { return {StatusCode::kOutOfRange, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {StatusCode::kUnauthenticated, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {StatusCode::kDeadlineExceeded, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }
  static Status Unimplemented(std::string msg) { return {StatusCode::kUnimplemented, std::move(msg)}; }
  static Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // A component-specific detail code, e.g. the BTrDB status code (404, 413, ...); 0 if none.
  int32_t subcode() const { return subcode_; }
  const std::string& message() const { return message_; }

  // True when retrying the same operation later may succeed (peer unavailable, timeout,
  // overload). The BTrDB layer sets codes so that this one function decides.
  bool IsTransient() const;

  // Says in the code that an error is deliberately dropped (a best-effort cleanup whose
  // failure the caller can do nothing about). Status is [[nodiscard]]; this is the one
  // way to discard it.
  void IgnoreError() const {}

  // Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const;

  // "OK", or "<CodeName>: message" (with " [subcode]" when set).
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.subcode_ == b.subcode_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  int32_t subcode_ = 0;
  std::string message_;
};

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace btrq

#define BTRQ_CONCAT_INNER_(a, b) a##b
#define BTRQ_CONCAT_(a, b) BTRQ_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define BTRQ_RETURN_IF_ERROR(expr)                    \
  do {                                                \
    ::btrq::Status btrq_status_ = (expr);             \
    if (!btrq_status_.ok()) return btrq_status_;      \
  } while (0)

#define BTRQ_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

// `BTRQ_ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value or returns the Status.
#define BTRQ_ASSIGN_OR_RETURN(lhs, rexpr) \
  BTRQ_ASSIGN_OR_RETURN_IMPL_(BTRQ_CONCAT_(btrq_result_, __LINE__), lhs, rexpr)
