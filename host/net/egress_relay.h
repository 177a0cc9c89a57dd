// EgressRelay: the host half of a workspace's egress. It takes each
// connection the guest's proxy holds (GuestAgent.WatchEgress), decides it by
// the allowlist — by name before any DNS, then by the resolved address,
// connecting only to the address it checked (no second lookup) — and relays
// allowed ones over a Tunnel stream — held to the name asked for
// (TunnelGuard), or, for a host with a plan (a secret bound to it),
// intercepted (intercept.h). Every attempt goes to the audit log, and every
// intercepted request.
// Connections to the guest's registry port (method REGISTRY) are served by
// the host's Registry over the same Tunnel, never connected anywhere.
// Bounded: at most kMaxTunnels relays at once; a connection over the bound
// waits for one to end (up to kTunnelWaitSeconds) rather than failing, as a
// slow guest's package manager opens many; at most kMaxHandlers
// announcements are handled (a thread each) at once, more are dropped and
// audited; a refusal's call has a deadline. Each tunnel is cut after 10 idle
// minutes (WORKSPACE_EGRESS_IDLE_SECONDS in the daemon's environment).
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "host/common/mutex.h"
#include "host/guest/guest_agent.h"
#include "host/net/audit_log.h"
#include "host/net/intercept.h"
#include "host/net/policy.h"
#include "host/registry/registry.h"
#include "host/tripwire/alerts.h"

namespace ws::net {

inline constexpr int kMaxTunnels = 256;
inline constexpr int kTunnelWaitSeconds = 20;  // the guest's proxy waits 30 s for a verdict
// Announcements handled at once (a host thread each, most waiting for a
// slot); more are dropped unheard, and the guest's proxy times them out.
inline constexpr int kMaxHandlers = 2 * kMaxTunnels;
// Longer names are no DNS names: dropped as they come.
inline constexpr size_t kMaxHostName = 255;

class EgressRelay {
 public:
  using AgentFn = std::function<Result<std::shared_ptr<guest::GuestAgent>>()>;
  // registry may be null (no registry endpoints); owner: whose cache serves them.
  EgressRelay(std::string workspace, AgentFn agent, std::vector<AllowEntry> allow,
              std::string audit_path, registry::Registry* registry = nullptr, uid_t owner = 0,
              bool private_ok = true);
  ~EgressRelay();  // stops taking connections; tunnels in flight finish on their own

  void SetAllowlist(std::vector<AllowEntry> allow, bool private_ok);
  // The hosts whose requests the host reads (intercept.h), with the CA that
  // vouches for them to the guest; for the next connection. Empty: none.
  void SetIntercept(std::vector<HostPlan> plans, std::shared_ptr<WorkspaceCa> ca,
                    std::shared_ptr<InterceptTls> tls);
  // The workspace's decoys (issue #23): every name, plain-http request and
  // intercepted request is read for them; one seen is refused and raises
  // an alert. Null: none.
  void SetTripwire(std::shared_ptr<tripwire::Tripwire> tripwire);

 private:
  // What connection threads use; shared, so it outlives the relay if they do.
  struct Shared {
    Shared(std::string ws, std::string audit_path, std::vector<AllowEntry> a, registry::Registry* r,
           uid_t o, bool p)
        : workspace(std::move(ws)),
          audit(std::move(audit_path)),
          allow(std::move(a)),
          registry(r),
          owner(o),
          private_ok(p) {}
    // A relay slot, waited for up to kTunnelWaitSeconds; false when none came.
    bool AcquireSlot();
    void ReleaseSlot();
    const std::string workspace;
    AuditLog audit;
    Mutex mu;
    CondVar slot_freed;
    std::vector<AllowEntry> allow WS_GUARDED_BY(mu);
    int open_tunnels WS_GUARDED_BY(mu) = 0;
    std::atomic<int> handlers{0};  // announcements being handled (a thread each)
    registry::Registry* const registry;
    const uid_t owner;
    // May an entry the user typed reach a non-public address? Not for a
    // member's workspace unless the daemon's policy says so.
    bool private_ok WS_GUARDED_BY(mu);
    std::vector<HostPlan> plans WS_GUARDED_BY(mu);
    std::shared_ptr<WorkspaceCa> ca WS_GUARDED_BY(mu);
    std::shared_ptr<InterceptTls> tls WS_GUARDED_BY(mu);
    uint64_t plan_generation WS_GUARDED_BY(mu) = 0;  // bumped by each SetIntercept
    std::shared_ptr<tripwire::Tripwire> tripwire WS_GUARDED_BY(mu);
  };
  void WatchLoop();
  void Take(const std::shared_ptr<guest::GuestAgent>& agent, const guest::EgressAttempt& req);
  static Decision DecideByName(Shared& shared, const guest::EgressAttempt& req);
  static void Handle(std::shared_ptr<Shared> shared, std::shared_ptr<guest::GuestAgent> agent,
                     guest::EgressAttempt req);
  static void Drop(Shared& shared, const guest::EgressAttempt& req, const std::string& why);
  static AuditRecord RecordFor(const Shared& shared, const guest::EgressAttempt& req);
  static void ServeRegistry(const std::shared_ptr<Shared>& shared, guest::GuestAgent& agent,
                            const guest::EgressAttempt& req);

  AgentFn agent_;
  std::shared_ptr<Shared> shared_;
  Mutex mu_;
  CondVar cv_;
  guest::EgressWatch* watch_ WS_GUARDED_BY(mu_) = nullptr;  // the call to cancel on stop
  bool stopping_ WS_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace ws::net
