// AgentPool: one live guest-agent connection per running workspace, opened
// on first use and replaced when it has died. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "host/common/mutex.h"
#include "host/guest/guest_agent.h"

namespace ws::controller {

class AgentPool {
 public:
  // Opens one connection to the agent of the VM `name` within `timeout`
  // (the daemon's main dials through the Hypervisor and hands the socket to
  // GrpcGuestAgent; tests give a fake). kNotFound: the VM has no channel
  // open (it is not running), nothing to wait for.
  using Dial = std::function<Result<std::shared_ptr<guest::GuestAgent>>(
      const std::string& name, std::chrono::milliseconds timeout)>;
  explicit AgentPool(Dial dial) : dial_(std::move(dial)) {}

  // The cached connection if alive, else a new one (see Connect).
  Result<std::shared_ptr<guest::GuestAgent>> Get(const std::string& name,
                                                 std::chrono::milliseconds timeout);
  // Connects, retrying with a fresh connection every `attempt` until `total`
  // has passed. Retrying matters: when the host reconnects quickly the guest
  // may not notice the hang-up, and the first handshake is lost.
  Result<std::shared_ptr<guest::GuestAgent>> Connect(const std::string& name,
                                                     std::chrono::milliseconds total,
                                                     std::chrono::milliseconds attempt);
  // A new connection in place of any cached one (a VM just booted: the
  // cached one, if any, was to the VM before), made under the same
  // one-connect-at-a-time lock as Get's; one attempt of at most `timeout`.
  Result<std::shared_ptr<guest::GuestAgent>> Reconnect(const std::string& name,
                                                       std::chrono::milliseconds timeout);
  void Put(const std::string& name, std::shared_ptr<guest::GuestAgent> agent);
  void Drop(const std::string& name);

 private:
  std::shared_ptr<std::mutex> ConnectLock(const std::string& name);

  const Dial dial_;

  Mutex mu_;
  std::map<std::string, std::shared_ptr<guest::GuestAgent>> agents_ WS_GUARDED_BY(mu_);
  // One connect at a time: QEMU's chardev accepts one client; a second
  // connect() sits in its backlog and must not race the first (after a
  // daemon restart, the egress watcher and the first exec both connect).
  std::map<std::string, std::shared_ptr<std::mutex>> connecting_ WS_GUARDED_BY(mu_);
};

}  // namespace ws::controller
