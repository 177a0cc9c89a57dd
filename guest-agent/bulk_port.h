// BulkPort: the agent's end of org.workspace.bulk.0 (framing in
// host/common/bulk_marker.h). One exec at a time claims it; the command's
// stdout is then the port itself, so its output reaches the host with one
// copy in the guest instead of four (pipe, agent, socket, relay), which is
// what bounds output under TCG. Other execs, tty sessions and VMs without the
// port keep the pipe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ws::agent {

class BulkClaim {
 public:
  ~BulkClaim();  // releases the port
  BulkClaim(const BulkClaim&) = delete;
  BulkClaim& operator=(const BulkClaim&) = delete;

  // The port, blocking: the command's stdout (dup2 clears its CLOEXEC).
  int fd() const { return fd_; }
  // Writes the end marker once the port takes it, after every writer of the
  // command's stdout is gone. `give_up` is asked every 100 ms while the host
  // has not drained what is ahead of it. False when it was not written.
  bool WriteEnd(const std::function<bool()>& give_up);

 private:
  friend class BulkPort;
  BulkClaim(int fd, std::string_view tag);
  int fd_;
  std::string tag_;
};

class BulkPort {
 public:
  // Claims the port for the exec with `tag` and writes its begin marker.
  // Null when the VM has no bulk port, the host is not reading it, another
  // exec holds it, or the tag is malformed.
  static std::unique_ptr<BulkClaim> Claim(std::string_view tag);
};

}  // namespace ws::agent
