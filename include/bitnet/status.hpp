// Recoverable errors for the whole library: Status carries a code and a message naming the problem,
// Result<T> is a value or a Status. Nothing that a user's file or request can cause throws across the API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace bitnet {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // a caller's argument is wrong (bad option, prompt too long, ...)
  kNotFound = 2,         // a file, key or tensor that should exist does not
  kIoError = 3,          // the operating system refused (open, read, mmap, write)
  kFormatError = 4,      // a file is malformed, truncated or lies about itself
  kUnsupported = 5,      // well-formed, but not something this engine handles (yet)
  kOutOfRange = 6,       // a value outside its allowed range (context full, id past the vocabulary)
  kInternal = 7,         // a bug in this library
};

const char* status_code_name(StatusCode code);
// `s` with each byte that is not part of valid UTF-8, and each control character but '\n' and '\t' (C0, DEL and
// C1: U+0080..U+009F), as \xNN.
std::string printable(std::string s);
// A name or text from a file or request for a message: in single quotes, cut to its first 100 bytes (with its
// length) where it is over 120, as a corrupt length swallows what follows.
std::string in_quotes(std::string_view s);

class [[nodiscard]] Status {
 public:
  Status() = default;
  // The message is kept printable (printable()): messages quote names and text from users' files and requests,
  // which may hold anything.
  Status(StatusCode code, std::string message) : code_(code), message_(printable(std::move(message))) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "format error: tensor 'blk.0.attn_q.weight': data runs past the end of the file"
  std::string to_string() const;
  // Returns a copy whose message is "context: message" (for adding where an error happened).
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status format_error(std::string m) { return {StatusCode::kFormatError, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = internal_error("Result constructed from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace bitnet

#define BITNET_CONCAT_INNER_(a, b) a##b
#define BITNET_CONCAT_(a, b) BITNET_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define BITNET_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::bitnet::Status bitnet_status_ = (expr);        \
    if (!bitnet_status_.ok()) return bitnet_status_; \
  } while (0)

// `lhs` = value of the Result `expr`, or return its Status from the enclosing function.
#define BITNET_ASSIGN_OR_RETURN(lhs, expr) \
  BITNET_ASSIGN_OR_RETURN_IMPL_(BITNET_CONCAT_(bitnet_result_, __LINE__), lhs, expr)
#define BITNET_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
