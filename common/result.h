// common/result.h
// Operating errors are values (STYLE.md "Errors"): every fallible call returns Result<T>, shaped
// like std::expected<T, Error>. The Code enum is closed; a code exists only if some caller reacts
// to it differently from the others.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace splitarray {

enum class Code : uint8_t {
  kIo = 1,           // device or file I/O failed; the device may be failed
  kCorruption,       // bytes from disk or a peer failed a checksum or identity check
  kNoSpace,          // out of space (disk slots, index capacity)
  kTimeout,          // a deadline passed before an answer arrived
  kUnavailable,      // peer or connection is gone or closing; retry elsewhere or later
  kBusy,             // a bounded queue or log is full; back off and retry (backpressure)
  kCancelled,        // the caller cancelled the operation
  kProtocol,         // malformed or out-of-contract bytes on the wire
  kStale,            // fenced: the request carried an epoch older than the owner's
  kNotFound,         // the named thing does not exist
  kInvalidArgument,  // the request itself is wrong (bad size, bad option, unknown key)
  // File-system outcomes a client reacts to differently (NFS3ERR_EXIST, _NOTDIR, ...):
  kExists,        // the name is taken
  kNotDirectory,  // a directory was needed
  kIsDirectory,   // a non-directory was needed
  kNotEmpty,      // the directory has entries
  kNameTooLong,   // a name or path beyond the file system's limit
  kFileTooLarge,  // beyond the largest file size
};
inline constexpr int kCodeCount = 17;

std::string_view code_name(Code code);

struct Error {
  Code code;
  std::string message;

  std::string to_string() const;
  friend bool operator==(const Error&, const Error&) = default;
};

inline Error make_error(Code code, std::string message) { return Error{code, std::move(message)}; }
inline Error corruption_error(std::string message) {
  return make_error(Code::kCorruption, std::move(message));
}
inline Error invalid_argument_error(std::string message) {
  return make_error(Code::kInvalidArgument, std::move(message));
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    ASSERT_MSG(ok(), "value() on an error Result");
    return std::get<0>(state_);
  }
  const T& value() const& {
    ASSERT_MSG(ok(), "value() on an error Result");
    return std::get<0>(state_);
  }
  T&& value() && {
    ASSERT_MSG(ok(), "value() on an error Result");
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  const Error& error() const {
    ASSERT_MSG(!ok(), "error() on an ok Result");
    return std::get<1>(state_);
  }
  Code code() const { return error().code; }
  Error take_error() && {
    ASSERT_MSG(!ok(), "take_error() on an ok Result");
    return std::get<1>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    ASSERT_MSG(!ok(), "error() on an ok Result");
    return *error_;
  }
  Code code() const { return error().code; }
  Error take_error() && {
    ASSERT_MSG(!ok(), "take_error() on an ok Result");
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

inline Result<void> ok_result() { return Result<void>(); }

// Dropping a Result on purpose must be explicit and greppable: ignore_result(expr, "why").
template <class T>
inline void ignore_result(Result<T>&& /*result*/, std::string_view /*why*/) {}

}  // namespace splitarray

#define SA_CONCAT_INNER(a, b) a##b
#define SA_CONCAT(a, b) SA_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr): expr yields a Result; on error, return that error from this function.
#define RETURN_IF_ERROR(expr)                                        \
  do {                                                               \
    auto sa_result_ = (expr);                                        \
    if (!sa_result_.ok()) return std::move(sa_result_).take_error(); \
  } while (0)

#define CO_RETURN_IF_ERROR(expr)                                        \
  do {                                                                  \
    auto sa_result_ = (expr);                                           \
    if (!sa_result_.ok()) co_return std::move(sa_result_).take_error(); \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): lhs = value of expr, or return its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  SA_ASSIGN_OR_RETURN_IMPL(SA_CONCAT(sa_result_, __LINE__), lhs, expr, return )
#define CO_ASSIGN_OR_RETURN(lhs, expr) \
  SA_ASSIGN_OR_RETURN_IMPL(SA_CONCAT(sa_result_, __LINE__), lhs, expr, co_return )
#define SA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr, ret) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) ret std::move(tmp).take_error();     \
  lhs = std::move(tmp).value()
