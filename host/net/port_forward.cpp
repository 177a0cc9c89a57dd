#include "host/net/port_forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

#include "host/net/stream_relay.h"

namespace ws::net {

Result<std::unique_ptr<PortForward>> PortForward::Open(uint16_t host_port, uint16_t guest_port,
                                                       AgentFn agent) {
  unique_fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket", errno);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(host_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only: never the host's other addresses
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == EADDRINUSE) {
      return Status(Code::kAlreadyExists,
                    "host port " + std::to_string(host_port) + " is in use; pick another");
    }
    return ErrnoStatus("binding 127.0.0.1:" + std::to_string(host_port), errno);
  }
  if (listen(fd.get(), 64) != 0) return ErrnoStatus("listen", errno);
  socklen_t len = sizeof addr;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<PortForward>(
      new PortForward(std::move(fd), ntohs(addr.sin_port), guest_port, std::move(agent)));
}

PortForward::PortForward(unique_fd listener, uint16_t host_port, uint16_t guest_port, AgentFn agent)
    : listener_(std::move(listener)),
      host_port_(host_port),
      guest_port_(guest_port),
      agent_(std::move(agent)) {
  thread_ = std::thread([this] { AcceptLoop(); });
}

PortForward::~PortForward() {
  shutdown(listener_.get(), SHUT_RDWR);  // accept() returns
  thread_.join();
}

void PortForward::AcceptLoop() {
  for (;;) {
    int c = accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    // Bounded before any thread starts: past the cap a connection is closed
    // at once (a local client's flood costs no thread, nor the daemon).
    if (open_->fetch_add(1) >= kMaxForwardConnections) {
      open_->fetch_sub(1);
      close(c);
      continue;
    }
    try {
      std::thread([c, port = guest_port_, agent_fn = agent_, open = open_] {
        unique_fd client(c);
        struct Release {
          std::shared_ptr<std::atomic<int>> n;
          ~Release() { n->fetch_sub(1); }
        } release{open};
        auto agent = agent_fn();
        if (!agent.ok()) return;
        auto stream = agent.value()->Forward(port);
        RelaySocketOverStream(client.get(), *stream, 0);
        (void)stream->Finish();  // the client saw the connection close
      }).detach();
    } catch (const std::system_error&) {  // no thread to be had: this connection goes
      open_->fetch_sub(1);
      close(c);
    }
  }
}

}  // namespace ws::net
