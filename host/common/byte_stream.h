// ByteStream: the bytes of one two-way connection (a tunnel from the guest's
// proxy, a forwarded port), whatever carries them. One reader thread and one
// writer thread may use it at once; Cancel may come from any thread.
#pragma once

#include <string>
#include <string_view>

#include "host/common/status.h"

namespace ws {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // The next piece of bytes from the far end; false at its end or on error.
  virtual bool Read(std::string* data) = 0;
  // False once the far end has gone.
  virtual bool Write(std::string_view data) = 0;
  // No more writes from this side (a half-close).
  virtual void CloseWrite() = 0;
  // Ends the stream now: a blocked Read or Write returns false.
  virtual void Cancel() = 0;
  // After Read returned false: how the stream ended.
  virtual Status Finish() = 0;
};

}  // namespace ws
