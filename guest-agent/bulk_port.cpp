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

namespace ws::agent {
namespace {

std::mutex port_mu;   // guards port_fd's opening
int port_fd = -1;     // opened once, kept: a virtio port opens only once
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
  if (port_fd < 0) std::fprintf(stderr, "workspace-agent: open %s: %s\n", path.c_str(), std::strerror(errno));
  return port_fd;
}

// Writes all of `data`; the caller has seen POLLOUT (a marker fits in one
// write to a writable port).
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// POLLOUT within `timeout_ms`, and the host connected.
bool Writable(int fd, int timeout_ms) {
  pollfd p = {fd, POLLOUT, 0};
  return poll(&p, 1, timeout_ms) > 0 && !(p.revents & (POLLHUP | POLLERR)) && (p.revents & POLLOUT);
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
  if (flags < 0 || ((flags & (O_NONBLOCK | O_APPEND)) && fcntl(fd, F_SETFL, flags & ~(O_NONBLOCK | O_APPEND)) != 0)) {
    return nullptr;
  }
  // The host sent a tag, so it reads the port; right after it connected the
  // guest may not know yet (QEMU tells it in a control message). And the
  // previous exec's output may still be draining. Wait a little for both,
  // else this exec uses its pipe.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  while (!Writable(fd, 10)) {
    if (std::chrono::steady_clock::now() >= until) return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // POLLHUP returns at once
  }
  if (!WriteAll(fd, bulk::Marker(bulk::kBegin, tag))) return nullptr;
  return claim;
}

BulkClaim::BulkClaim(int fd, std::string_view tag) : fd_(fd), tag_(tag) {}

BulkClaim::~BulkClaim() { claimed = false; }

bool BulkClaim::WriteEnd(const std::function<bool()>& give_up) {
  for (;;) {
    if (Writable(fd_, 100)) return WriteAll(fd_, bulk::Marker(bulk::kEnd, tag_));
    if (give_up()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // POLLHUP returns at once
  }
}

}  // namespace ws::agent
