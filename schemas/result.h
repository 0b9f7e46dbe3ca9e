// Status and Result<T>: errors as values, hard to ignore.
//
// Every fallible call on the hot path returns one of these. The message is meant for the
// person running Waybill: it says what failed and where (a field, a file, a sequence).
// Thread-safety: plain values; copy freely between threads.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace waybill {

enum class ErrorCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,   // the input is wrong; the message names the field and the reason
  kNotFound,          // nothing with that key/id exists
  kIoError,           // the disk or the OS failed; the message carries the OS/RocksDB text
  kCorruption,        // stored data does not match its checksum or chain
  kBusy,              // another process holds the resource (e.g. a data dir's lock)
  kUnsupported,       // a newer format or an unknown version
  kShutdown,          // the component is stopping and took no new work
  kInternal,          // a broken invariant inside Waybill; always a bug
  kUnauthenticated,   // no credentials, or credentials that do not verify (bad/expired token)
  kPermissionDenied,  // verified credentials without the scope the operation needs
};

// Human-readable name of an error code ("invalid argument", "io error", ...).
const char* ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Invalid(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Status IoError(std::string m) { return {ErrorCode::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {ErrorCode::kCorruption, std::move(m)}; }
  static Status Busy(std::string m) { return {ErrorCode::kBusy, std::move(m)}; }
  static Status Unsupported(std::string m) { return {ErrorCode::kUnsupported, std::move(m)}; }
  static Status Shutdown(std::string m) { return {ErrorCode::kShutdown, std::move(m)}; }
  static Status Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
  static Status Unauthenticated(std::string m) {
    return {ErrorCode::kUnauthenticated, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {ErrorCode::kPermissionDenied, std::move(m)};
  }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "io error: open /data/LOCK: Resource temporarily unavailable"
  std::string ToString() const;

  // Marks a status as deliberately ignored, so swallowing an error is searchable.
  void IgnoreError() const {}

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace waybill

#define WAYBILL_RETURN_IF_ERROR(expr) \
  do {                                \
    ::waybill::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)
