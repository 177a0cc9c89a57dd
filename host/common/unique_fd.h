// unique_fd: owns one file descriptor and closes it once. Not thread-safe.
#pragma once

#include <cstddef>
#include <utility>

namespace ws {

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  ~unique_fd() { reset(); }
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Sets O_NONBLOCK on fd; false on failure (errno set).
bool SetNonBlocking(int fd);
// Writes all of buf, retrying on EINTR and short writes; on a non-blocking
// fd it waits (poll) when the fd is full.
bool WriteAll(int fd, const void* buf, size_t len);

}  // namespace ws
