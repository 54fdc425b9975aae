#pragma once
// Errors are values in Tandem: functions that can fail on input from the network, disk or a
// peer return Status or Result<T> instead of throwing (docs/ERRORS.md). Exceptions from libraries
// are caught at module boundaries and turned into a Status.

#include <string>
#include <string_view>
#include <utility>

namespace tandem {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something unusable (bad flag, bad room id)
  kMalformed,        // bytes that do not decode (truncated, bad tag, bad UTF-8)
  kOutOfRange,       // a value beyond what the format allows
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kResourceExhausted,  // a configured limit was hit
  kUnauthenticated,
  kPermissionDenied,
  kUnavailable,  // a dependency is down; trying again later may work
  kDeadlineExceeded,
  kAborted,  // a conflict with a newer writer (a stale fencing epoch)
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "malformed: unexpected end of input at byte 12"
  std::string ToString() const;

  // Prefixes the message with where the error happened, keeping the code.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status MalformedError(std::string message) {
  return {StatusCode::kMalformed, std::move(message)};
}
inline Status InvalidArgumentError(std::string message) {
  return {StatusCode::kInvalidArgument, std::move(message)};
}
inline Status OutOfRangeError(std::string message) {
  return {StatusCode::kOutOfRange, std::move(message)};
}
inline Status NotFoundError(std::string message) {
  return {StatusCode::kNotFound, std::move(message)};
}
inline Status UnavailableError(std::string message) {
  return {StatusCode::kUnavailable, std::move(message)};
}
inline Status InternalError(std::string message) {
  return {StatusCode::kInternal, std::move(message)};
}
inline Status ResourceExhaustedError(std::string message) {
  return {StatusCode::kResourceExhausted, std::move(message)};
}

}  // namespace tandem

#define TANDEM_CONCAT_INNER_(a, b) a##b
#define TANDEM_CONCAT_(a, b) TANDEM_CONCAT_INNER_(a, b)

#define TANDEM_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::tandem::Status tandem_status_ = (expr);        \
    if (!tandem_status_.ok()) return tandem_status_; \
  } while (0)
