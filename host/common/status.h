// Status and Result<T>: how errors cross module boundaries (no exceptions).
// A closed set of codes; each is mapped to gRPC codes and CLI exit codes by a
// switch without `default:` so a new code cannot be forgotten.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace ws {

enum class Code {
  kOk,
  kInvalidArgument,     // bad input from the user: a name, a flag value
  kNotFound,            // no such workspace or image
  kAlreadyExists,       // the name is taken
  kFailedPrecondition,  // wrong state: stopped, running, ...
  kPermissionDenied,    // not the caller's workspace, not allowed
  kUnavailable,         // the daemon, libvirt or the guest agent cannot be reached
  kDeadlineExceeded,    // a boot or a call took too long
  kResourceExhausted,   // disk, memory, limits
  kInternal,            // a bug or an unexpected failure of a dependency
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// errno turned into a Status: "<what>: <strerror>".
Status ErrnoStatus(const std::string& what, int err);
const char* CodeName(Code code);

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: must not be ok
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

 private:
  std::variant<T, Status> v_;
};

}  // namespace ws
