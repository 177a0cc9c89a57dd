#include "guest-agent/bulk_port.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "guest-agent/init.h"
#include "host/common/bulk_marker.h"
#include "host/common/unique_fd.h"

namespace ws::agent {
namespace {

std::mutex port_mu;  // guards port_fd's opening
int port_fd = -1;    // opened once, kept: a virtio port opens only once
std::atomic<bool> claimed{false};

// The open port, or -1. Looked up lazily: it appears in sysfs a moment
// after the agent's own port, and a VM defined before it existed has none.
int PortFd() {
  std::lock_guard lock(port_mu);
  if (port_fd >= 0) return port_fd;
  std::string path = FindPort(bulk::kPortName, std::chrono::milliseconds(0));
  if (path.empty()) return -1;
  // Blocking: the command writes to it as to any stdout.
  port_fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (port_fd < 0)
    std::fprintf(stderr, "workspace-agent: open %s: %s\n", path.c_str(), std::strerror(errno));
  return port_fd;
}

// Writes `marker` once the port takes it (POLLOUT, the host connected; a
// marker then fits in one write), asking `give_up` between waits.
bool WriteMarker(int fd, const std::string& marker, int poll_ms,
                 const std::function<bool()>& give_up) {
  for (;;) {
    pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, poll_ms) > 0 && !(p.revents & (POLLHUP | POLLERR)) && (p.revents & POLLOUT)) {
      return WriteAll(fd, marker.data(), marker.size());
    }
    if (give_up()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // POLLHUP returns at once
  }
}

}  // namespace

std::unique_ptr<BulkClaim> BulkPort::Claim(std::string_view tag) {
  if (tag.size() != bulk::kTagSize) return nullptr;
  int fd = PortFd();
  if (fd < 0) return nullptr;
  if (claimed.exchange(true)) return nullptr;
  std::unique_ptr<BulkClaim> claim(new BulkClaim(fd, tag));
  // Every command shares this open file: one that made its stdout
  // non-blocking (and was killed before undoing it) must not leave later
  // commands with EAGAIN.
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || ((flags & (O_NONBLOCK | O_APPEND)) &&
                    fcntl(fd, F_SETFL, flags & ~(O_NONBLOCK | O_APPEND)) != 0)) {
    return nullptr;
  }
  // The host sent a tag, so it reads the port; right after it connected the
  // guest may not know yet (QEMU tells it in a control message). And the
  // previous exec's output may still be draining. Wait a little for both,
  // else this exec uses its pipe.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  if (!WriteMarker(fd, bulk::Marker(bulk::kBegin, tag), 10,
                   [&] { return std::chrono::steady_clock::now() >= until; })) {
    return nullptr;
  }
  return claim;
}

BulkClaim::BulkClaim(int fd, std::string_view tag) : fd_(fd), tag_(tag) {}

BulkClaim::~BulkClaim() { claimed = false; }

bool BulkClaim::WriteEnd(const std::function<bool()>& give_up) {
  return WriteMarker(fd_, bulk::Marker(bulk::kEnd, tag_), 100, give_up);
}

}  // namespace ws::agent
