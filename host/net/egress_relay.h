// EgressRelay: the host half of a workspace's egress. It takes each
// connection the guest's proxy holds (GuestAgent.WatchEgress), decides it by
// the allowlist — by name before any DNS, then by the resolved address,
// connecting only to the address it checked (no second lookup) — and relays
// allowed ones over a Tunnel stream. Every attempt goes to the audit log.
// Bounded: at most kMaxTunnels open at once, each cut after 10 idle minutes
// (WORKSPACE_EGRESS_IDLE_SECONDS in the daemon's environment). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "host/guest/grpc_guest_agent.h"
#include "host/net/audit_log.h"
#include "host/net/policy.h"

namespace ws::net {

inline constexpr int kMaxTunnels = 64;

class EgressRelay {
 public:
  using AgentFn = std::function<Result<std::shared_ptr<guest::GrpcGuestAgent>>()>;
  EgressRelay(std::string workspace, AgentFn agent, std::vector<AllowEntry> allow, std::string audit_path);
  ~EgressRelay();  // stops taking connections; tunnels in flight finish on their own

  void SetAllowlist(std::vector<AllowEntry> allow);

 private:
  // What connection threads use; shared, so it outlives the relay if they do.
  struct Shared {
    Shared(std::string ws, std::string audit_path, std::vector<AllowEntry> a)
        : workspace(std::move(ws)), audit(std::move(audit_path)), allow(std::move(a)) {}
    const std::string workspace;
    AuditLog audit;
    std::mutex mu;
    std::vector<AllowEntry> allow;  // guarded by mu
    std::atomic<int> open_tunnels{0};
  };
  void WatchLoop();
  static void Handle(std::shared_ptr<Shared> shared, std::shared_ptr<guest::GrpcGuestAgent> agent,
                     workspace::v1::EgressRequest req);

  AgentFn agent_;
  std::shared_ptr<Shared> shared_;
  std::mutex mu_;
  std::condition_variable cv_;
  grpc::ClientContext* watch_ = nullptr;  // guarded by mu_: the call to cancel on stop
  bool stopping_ = false;                 // guarded by mu_
  std::thread watcher_;
};

}  // namespace ws::net
