// PortForward: one guest port published on the host's loopback only
// (127.0.0.1:host_port), carried over the agent channel (no NIC needed).
// Each accepted connection becomes a GuestAgent::Forward stream; at most
// kMaxForwardConnections at once per published port (more are closed).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "host/guest/guest_agent.h"

namespace ws::net {

inline constexpr int kMaxForwardConnections = 128;

class PortForward {
 public:
  using AgentFn = std::function<Result<std::shared_ptr<guest::GuestAgent>>()>;
  // host_port 0 picks a free port. kAlreadyExists when the port is taken.
  static Result<std::unique_ptr<PortForward>> Open(uint16_t host_port, uint16_t guest_port,
                                                   AgentFn agent);
  ~PortForward();  // stops listening; open connections finish on their own

  uint16_t host_port() const { return host_port_; }
  uint16_t guest_port() const { return guest_port_; }

 private:
  PortForward(unique_fd listener, uint16_t host_port, uint16_t guest_port, AgentFn agent);
  void AcceptLoop();

  unique_fd listener_;
  uint16_t host_port_, guest_port_;
  AgentFn agent_;
  // Connections being relayed; shared with their threads, which may
  // outlive this object.
  std::shared_ptr<std::atomic<int>> open_ = std::make_shared<std::atomic<int>>(0);
  std::thread thread_;
};

}  // namespace ws::net
