#include "guest-agent/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "host/common/unique_fd.h"

namespace ws::agent {
namespace {

// 1 MiB each way: large reads/writes are what keep the port busy (DESIGN).
constexpr size_t kBufSize = 1 << 20;

// A one-direction byte buffer between two non-blocking fds.
struct Pipe {
  std::vector<char> buf = std::vector<char>(kBufSize);
  size_t head = 0, tail = 0;  // data is buf[head, tail)
  bool empty() const { return head == tail; }
  bool full() const { return tail == buf.size(); }

  // Reads until fd has no more or the buffer is full: a port read returns
  // at most one 4 KiB receive buffer, and one poll per read cost more than
  // the read under TCG. false on EOF or a fatal error.
  bool Fill(int fd) {
    while (tail < buf.size()) {
      ssize_t n = read(fd, buf.data() + tail, buf.size() - tail);
      if (n > 0) {
        tail += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return n < 0 && errno == EAGAIN;
      }
    }
    return true;
  }
  bool Drain(int fd) {
    ssize_t n = write(fd, buf.data() + head, tail - head);
    if (n > 0) head += static_cast<size_t>(n);
    if (head == tail) head = tail = 0;
    return n >= 0 || errno == EAGAIN || errno == EINTR;
  }
};

// Socket -> port without copying through user space: splice into a kernel
// pipe, then from it into the port (virtio_console takes the pages). The
// guest's CPU is what bounds output under TCG, so each copy saved counts.
// Falls back to read/write (ok() false) where splice is refused.
struct SplicePipe {
  unique_fd r, w;
  size_t pending = 0;  // bytes in the kernel pipe
  size_t cap = 0;
  bool ok() const { return r && cap > 0; }
  bool empty() const { return pending == 0; }
  bool full() const { return pending >= cap; }

  SplicePipe() {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return;
    r.reset(p[0]);
    w.reset(p[1]);
    int size = fcntl(w.get(), F_SETPIPE_SZ, static_cast<int>(kBufSize));
    cap = size > 0 ? static_cast<size_t>(size) : 0;
  }
  // false on EOF or a fatal error.
  bool Fill(int fd) {
    ssize_t n =
        splice(fd, nullptr, w.get(), nullptr, cap - pending, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) pending += static_cast<size_t>(n);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
  }
  bool Drain(int fd) {
    ssize_t n = splice(r.get(), nullptr, fd, nullptr, pending, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) pending -= static_cast<size_t>(n);
    return n >= 0 || errno == EAGAIN || errno == EINTR;
  }
};

bool HostConnected(int port) {
  pollfd p = {port, 0, 0};
  return poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP);
}

// Copies bytes both ways until the host disconnects or the server closes its end.
template <typename ToHost>
void Relay(int port, int sock, ToHost& to_host) {
  Pipe to_server;
  for (;;) {
    pollfd fds[2] = {{port, 0, 0}, {sock, 0, 0}};
    if (!to_server.full()) fds[0].events |= POLLIN;
    if (!to_host.empty()) fds[0].events |= POLLOUT;
    if (!to_host.full()) fds[1].events |= POLLIN;
    if (!to_server.empty()) fds[1].events |= POLLOUT;
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents & POLLHUP) return;  // host went away
    if (fds[1].revents & (POLLHUP | POLLERR)) return;
    if ((fds[0].revents & POLLIN) && !to_server.Fill(port)) return;
    if ((fds[1].revents & POLLIN) && !to_host.Fill(sock)) return;
    if ((fds[1].revents & POLLOUT) && !to_server.Drain(sock)) return;
    if ((fds[0].revents & POLLOUT) && !to_host.Drain(port)) return;
  }
}

void RelayOneConnection(int port, int sock) {
  SplicePipe spliced;
  if (spliced.ok()) return Relay(port, sock, spliced);
  Pipe copied;
  Relay(port, sock, copied);
}

}  // namespace

void ServeOnPort(grpc::Server* server, const std::string& port_path) {
  unique_fd port(open(port_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!port) {
    std::fprintf(stderr, "workspace-agent: open %s: %s\n", port_path.c_str(), std::strerror(errno));
    return;
  }
  for (;;) {
    // While no host is connected the port reports POLLHUP at once; wait it out.
    while (!HostConnected(port.get())) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      std::fprintf(stderr, "workspace-agent: socketpair: %s\n", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    unique_fd mine(sv[0]);
    grpc::AddInsecureChannelFromFd(server, sv[1]);  // the server owns sv[1]
    RelayOneConnection(port.get(), mine.get());
    // Closing our end ends the server's transport and every call on it.
  }
}

void ServeOnUnixSocket(grpc::Server* server, const std::string& socket_path) {
  unique_fd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "workspace-agent: socket path too long: %s\n", socket_path.c_str());
    return;
  }
  std::strcpy(addr.sun_path, socket_path.c_str());
  unlink(socket_path.c_str());
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener.get(), 16) != 0) {
    std::fprintf(stderr, "workspace-agent: listen %s: %s\n", socket_path.c_str(),
                 std::strerror(errno));
    return;
  }
  for (;;) {
    int fd = accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::fprintf(stderr, "workspace-agent: accept: %s\n", std::strerror(errno));
      return;
    }
    grpc::AddInsecureChannelFromFd(server, fd);
  }
}

}  // namespace ws::agent
