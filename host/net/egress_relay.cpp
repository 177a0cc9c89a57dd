#include "host/net/egress_relay.h"

#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>

#include "host/common/unique_fd.h"
#include "host/net/stream_relay.h"
#include "host/net/upstream.h"

namespace ws::net {
namespace {

// A name under GitHub's domains that the GitHub rule set does not plan.
bool IsUnreadGithubName(const std::string& host) {
  for (std::string_view domain : {".github.com", ".githubusercontent.com", ".githubassets.com"}) {
    if (host.size() > domain.size() &&
        host.compare(host.size() - domain.size(), domain.size(), domain) == 0) {
      return true;
    }
  }
  return false;
}

using guest::EgressAttempt;
using Clock = std::chrono::steady_clock;

// Tunnels idle this long are cut (WORKSPACE_EGRESS_IDLE_SECONDS, default 10 min).
int IdleSeconds() {
  static const int seconds = [] {
    const char* v = getenv("WORKSPACE_EGRESS_IDLE_SECONDS");
    int n = v ? atoi(v) : 0;
    return n > 0 ? n : 600;
  }();
  return seconds;
}

// The guest's bytes on one connection, read for decoys: each one seen
// raises an alert naming the connection's process and exec, and is named
// in the refusal and the audit.
class DecoyTrap {
 public:
  DecoyTrap(std::shared_ptr<tripwire::Tripwire> t, const EgressAttempt& req)
      : tripwire_(std::move(t)), watch_(tripwire_->Watch()), req_(req) {
    req_.head.clear();
  }
  // The refusal's reason when `bytes` held a decoy; "" when not.
  std::string See(std::string_view bytes, const std::string& channel, const std::string& detail) {
    std::vector<const tripwire::Decoy*> found;
    {
      std::lock_guard lock(mu_);
      found = watch_.Feed(bytes);
      for (const auto* d : found) labels_.push_back(tripwire::Tripwire::Label(*d));
    }
    if (found.empty()) return "";
    std::string names;
    for (const auto* d : found) {
      names += (names.empty() ? "" : ", ") + d->kind + " from " + d->where;
      tripwire::Alert a;
      a.decoy = d->kind;
      a.where = d->where;
      a.channel = channel;
      // Never a decoy's value in what is kept (a name or a URL may hold one).
      a.target = Redact(req_.host) + ":" + std::to_string(req_.port);
      a.detail = Redact(detail);
      a.pid = req_.pid;
      a.command = Redact(req_.command);
      a.exec_id = req_.exec_id;
      tripwire_->Raise(std::move(a));
    }
    return "it carries a decoy credential (" + names +
           "): something read it and tried to send it; nothing was sent (workspace alerts)";
  }
  std::string Redact(std::string_view text) const { return tripwire_->index()->Redact(text); }
  // The decoys seen since the last call, for an audit line.
  std::vector<std::string> TakeLabels() {
    std::lock_guard lock(mu_);
    return std::exchange(labels_, {});
  }

 private:
  std::shared_ptr<tripwire::Tripwire> tripwire_;
  std::mutex mu_;
  tripwire::DecoyWatch watch_;  // guarded by mu_
  EgressAttempt req_;
  std::vector<std::string> labels_;  // guarded by mu_
};

}  // namespace

// An audit record begun with what the guest said of the connection.
AuditRecord EgressRelay::RecordFor(const Shared& shared, const EgressAttempt& req) {
  AuditRecord rec;
  rec.time = NowRfc3339Millis();
  rec.workspace = shared.workspace;
  rec.exec_id = req.exec_id;
  rec.pid = req.pid;
  rec.command = req.command;
  return rec;
}

// An announcement not answered at all (the guest's proxy times its client
// out): audited, with what it named cut to the audit's bound.
void EgressRelay::Drop(Shared& shared, const EgressAttempt& req, const std::string& why) {
  AuditRecord rec = RecordFor(shared, req);
  rec.target = req.host.substr(0, kMaxAuditField);
  rec.port = req.port;
  rec.method = req.method.substr(0, kMaxAuditField);
  rec.decision = "deny";
  rec.reason = "dropped: " + why;
  shared.audit.Append(rec);
}

bool EgressRelay::Shared::AcquireSlot() {
  MutexLock lock(mu);
  const auto until = Clock::now() + std::chrono::seconds(kTunnelWaitSeconds);
  while (open_tunnels >= kMaxTunnels) {
    if (slot_freed.wait_until(lock, until) == std::cv_status::timeout &&
        open_tunnels >= kMaxTunnels) {
      return false;
    }
  }
  ++open_tunnels;
  return true;
}

void EgressRelay::Shared::ReleaseSlot() {
  {
    MutexLock lock(mu);
    --open_tunnels;
  }
  slot_freed.notify_one();
}

EgressRelay::EgressRelay(std::string workspace, AgentFn agent, std::vector<AllowEntry> allow,
                         std::string audit_path, registry::Registry* registry, uid_t owner,
                         bool private_ok)
    : agent_(std::move(agent)),
      shared_(std::make_shared<Shared>(std::move(workspace), std::move(audit_path),
                                       std::move(allow), registry, owner, private_ok)) {
  watcher_ = std::thread([this] { WatchLoop(); });
}

EgressRelay::~EgressRelay() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    if (watch_) watch_->Cancel();
    cv_.notify_all();
  }
  watcher_.join();
}

void EgressRelay::SetAllowlist(std::vector<AllowEntry> allow, bool private_ok) {
  MutexLock lock(shared_->mu);
  shared_->allow = std::move(allow);
  shared_->private_ok = private_ok;
}

void EgressRelay::SetIntercept(std::vector<HostPlan> plans, std::shared_ptr<WorkspaceCa> ca,
                               std::shared_ptr<InterceptTls> tls) {
  MutexLock lock(shared_->mu);
  shared_->plans = std::move(plans);
  shared_->ca = std::move(ca);
  shared_->tls = std::move(tls);
  ++shared_->plan_generation;
}

void EgressRelay::SetTripwire(std::shared_ptr<tripwire::Tripwire> tripwire) {
  MutexLock lock(shared_->mu);
  shared_->tripwire = std::move(tripwire);
}

void EgressRelay::WatchLoop() {
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    auto agent = agent_();
    if (agent.ok()) {
      auto watch = agent.value()->WatchEgress();
      {
        MutexLock lock(mu_);
        if (stopping_) return;
        watch_ = watch.get();
      }
      EgressAttempt req;
      while (watch->Next(&req)) Take(agent.value(), req);
      (void)watch->Finish();  // the agent connection is replaced when it broke
      MutexLock lock(mu_);
      watch_ = nullptr;
    }
    MutexLock lock(mu_);
    if (!stopping_) cv_.wait_for(lock, std::chrono::seconds(1));
  }
}

// A thread per announcement, bounded: past kMaxHandlers an announcement is
// dropped, and the guest's proxy answers its client 504 when it hears
// nothing (a flooding guest gets no host threads). No host name is longer
// than 255 bytes: a longer one is dropped. The agent adapter has cut and
// cleaned every field: a handler holds a few KiB, whatever the guest sent.
void EgressRelay::Take(const std::shared_ptr<guest::GuestAgent>& agent, const EgressAttempt& req) {
  if (req.method == "FILE-READ") {  // a decoy file opened: no connection to answer
    std::shared_ptr<tripwire::Tripwire> tripwire;
    {
      MutexLock lock(shared_->mu);
      tripwire = shared_->tripwire;
    }
    if (!tripwire || shared_->handlers.fetch_add(1) >= kMaxHandlers) {
      if (tripwire) --shared_->handlers;
      return;
    }
    try {  // off this thread: telling the exec may wait on the agent
      std::thread([shared = shared_, tripwire, req] {
        (void)tripwire->RaiseFileRead(req.host, req.pid, req.command, req.exec_id);
        --shared->handlers;
      }).detach();
    } catch (const std::system_error&) {
      --shared_->handlers;
    }
    return;
  }
  if (req.host.size() > kMaxHostName) {
    Drop(*shared_, req, "a host name longer than " + std::to_string(kMaxHostName) + " bytes");
    return;
  }
  if (shared_->handlers.fetch_add(1) >= kMaxHandlers) {
    --shared_->handlers;
    Drop(*shared_, req,
         "more than " + std::to_string(kMaxHandlers) + " connections waiting at once");
    return;
  }
  try {
    std::thread([shared = shared_, agent, req] {
      Handle(shared, agent, req);
      --shared->handlers;
    }).detach();
  } catch (const std::system_error&) {  // no thread to be had: this one is dropped
    --shared_->handlers;
    Drop(*shared_, req, "the host has no thread for it");
  }
}

// The verdict by name (and port) alone, before any DNS.
Decision EgressRelay::DecideByName(Shared& shared, const EgressAttempt& req) {
  MutexLock lock(shared.mu);
  Decision d =
      Decide(shared.allow, req.host, static_cast<uint16_t>(req.port > 65535 ? 0 : req.port));
  d.by_wildcard = d.entry && d.entry->is_wildcard();
  d.entry = nullptr;  // points into the list, which may change: not used past here
  if (!shared.private_ok) d.explicit_entry = false;
  return d;
}

void EgressRelay::Handle(std::shared_ptr<Shared> shared, std::shared_ptr<guest::GuestAgent> agent,
                         EgressAttempt req) {
  const auto t0 = Clock::now();
  if (req.method == "REGISTRY" && shared->registry) return ServeRegistry(shared, *agent, req);
  AuditRecord rec = RecordFor(*shared, req);
  rec.target = req.host;
  rec.port = req.port;
  rec.method = req.method;

  Decision d = DecideByName(*shared, req);
  std::shared_ptr<DecoyTrap> trap;
  {
    MutexLock lock(shared->mu);
    if (shared->tripwire) trap = std::make_shared<DecoyTrap>(shared->tripwire, req);
  }
  if (trap) {
    // The name (a decoy as a DNS label), then a plain-http request's head
    // and first body bytes: read whether or not the host is allowed.
    std::string why = trap->See(req.host, "egress", req.method + " name");
    if (why.empty() && !req.head.empty()) {
      std::string_view line(req.head);
      line = line.substr(0, std::min(line.find('\r'), size_t{200}));
      why = trap->See(req.head, "egress",
                      std::string(line) + (d.verdict == Verdict::kAllow ? "" : " (denied)"));
    }
    rec.decoys = trap->TakeLabels();
    if (!rec.decoys.empty()) {
      rec.target = trap->Redact(rec.target);
      rec.command = trap->Redact(rec.command);
    }
    if (!why.empty()) {
      d.verdict = Verdict::kDeny;
      d.reason = d.reason.empty() ? why : d.reason + "; " + why;
    }
  }
  bool slot = false;
  if (d.verdict == Verdict::kAllow) {
    slot = shared->AcquireSlot();
    if (!slot) {
      d.verdict = Verdict::kDeny;
      d.reason = "too many open connections (" + std::to_string(kMaxTunnels) + " for " +
                 std::to_string(kTunnelWaitSeconds) + " s)";
    }
  }
  std::unique_ptr<Upstream> upstream;
  if (d.verdict == Verdict::kAllow) {
    // A host with a plan is intercepted (on any port: its requests carry a
    // secret or a rule, and plain bytes to it are refused).
    std::optional<HostPlan> plan;
    bool github_unread = false;
    std::shared_ptr<WorkspaceCa> ca;
    std::shared_ptr<InterceptTls> tls;
    uint64_t generation = 0;
    {
      MutexLock lock(shared->mu);
      const auto name = NormalizeHostName(req.host);
      for (const auto& p : shared->plans) {
        // A secret goes to its host's TLS port; an AI API is read on every
        // port (plain bytes to it are refused).
        if (name && p.host == *name && (req.port == 443 || p.host_class != HostClass::kOther)) {
          plan = p;
        }
      }
      // Under the GitHub rule set, a GitHub name it does not read, allowed
      // by a wildcard (ssh.github.com, a package host), is no way around it;
      // one the user named exactly is theirs to allow.
      github_unread = !plan && d.by_wildcard && name && IsUnreadGithubName(*name) &&
                      std::any_of(shared->plans.begin(), shared->plans.end(),
                                  [](const HostPlan& p) { return IsGithubClass(p.host_class); });
      ca = shared->ca;
      tls = shared->tls;
      generation = shared->plan_generation;
    }
    Dialed dialed;
    if (github_unread) {
      dialed.decision = d;
      dialed.decision.verdict = Verdict::kDeny;
      dialed.decision.reason = req.host +
                               " is a GitHub host outside the GitHub rule set (only its hosts "
                               "are reached, on 443, read by the host)";
    } else if (plan && plan->host_class == HostClass::kRegistry && req.port != 443) {
      // A registry over plain HTTP (apt's default): held to its name and
      // to reads, without TLS to end.
      dialed = DialTcp(d, req.host, static_cast<uint16_t>(req.port), IdleSeconds(),
                       !plan->writes_allowed);
    } else if (plan && !(ca && tls)) {
      // Planned but not readable (the CA could not be made): refused, never
      // tunnelled, so no AI API becomes an open way out.
      dialed.decision = d;
      dialed.decision.verdict = Verdict::kDeny;
      dialed.decision.reason = "the host cannot read requests to " + plan->host +
                               " in this workspace now (see the daemon's log)";
    } else if (plan) {
      plan->port = static_cast<uint16_t>(req.port);
      if (trap) {
        plan->watch = [trap](std::string_view bytes, const std::string& request) {
          return trap->See(bytes, "request", request);
        };
      }
      // Unbound, removed or replaced since this connection opened: its next
      // request is refused, so an old value never goes out again.
      auto current = [shared, generation] {
        MutexLock lock(shared->mu);
        return shared->plan_generation == generation;
      };
      dialed = DialIntercept(d, req.host, std::move(*plan), ca, tls, IdleSeconds(), current,
                             [shared, req, trap](const InterceptedRequest& r) {
                               AuditRecord a = RecordFor(*shared, req);
                               a.target = req.host;
                               a.port = req.port;
                               a.method = r.method;
                               a.path = r.path;
                               a.rule = r.outcome.rule;
                               a.binding = r.outcome.binding;
                               a.injected = r.outcome.injected;
                               a.refs = r.outcome.refs;
                               if (trap) a.decoys = trap->TakeLabels();
                               if (!a.decoys.empty()) {
                                 a.command = trap->Redact(a.command);
                                 a.path = trap->Redact(a.path);
                               }
                               a.status = r.status;
                               a.decision = r.outcome.refusal.status == 0 ? "allow" : "deny";
                               a.reason = r.outcome.refusal.reason;
                               shared->audit.Append(a);
                             });
    } else {
      dialed = DialTcp(d, req.host, static_cast<uint16_t>(req.port), IdleSeconds());
    }
    d = dialed.decision;
    upstream = std::move(dialed.upstream);
  }
  RelayCounts counts;
  if (upstream) {
    rec.address = upstream->address();
    auto stream = agent->AcceptTunnel(req.id);
    counts = upstream->Handle(d, *stream);
    (void)stream->Finish();  // the guest's client saw the connection end
  } else {
    (void)agent->RefuseTunnel(req.id, d.reason, std::chrono::seconds(kTunnelWaitSeconds));
  }
  if (slot) shared->ReleaseSlot();
  if (!counts.refused.empty()) {  // allowed by name, refused by what it carried
    d.verdict = Verdict::kDeny;
    d.reason = counts.refused;
  }
  if (trap) {
    auto late = trap->TakeLabels();  // a body cut by a decoy past its request's line
    rec.decoys.insert(rec.decoys.end(), late.begin(), late.end());
    if (!late.empty()) rec.command = trap->Redact(rec.command);
  }
  rec.decision = d.verdict == Verdict::kAllow ? "allow" : "deny";
  rec.reason = d.reason;
  rec.bytes_up = counts.guest_to_socket;
  rec.bytes_down = counts.socket_to_guest;
  rec.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  shared->audit.Append(rec);
}

// The guest's registry port: the host's Registry speaks HTTP on one end of
// a socket pair, the other end relayed over the Tunnel like any connection.
// One audit line per request, none for the connection.
void EgressRelay::ServeRegistry(const std::shared_ptr<Shared>& shared, guest::GuestAgent& agent,
                                const EgressAttempt& req) {
  int pair[2];
  const bool slot = shared->AcquireSlot();
  const bool ok = slot && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0;
  if (!ok) {
    (void)agent.RefuseTunnel(req.id, "the host's registry endpoints are busy; try again",
                             std::chrono::seconds(kTunnelWaitSeconds));
    if (slot) shared->ReleaseSlot();
    return;
  }
  unique_fd ours(pair[0]);
  unique_fd theirs_fd(pair[1]);
  auto stream = agent.AcceptTunnel(req.id);
  std::thread server;
  try {
    server = std::thread([shared, req, theirs = std::move(theirs_fd)]() mutable {
      shared->registry->Serve(std::move(theirs), shared->owner, [&](const registry::Served& s) {
        AuditRecord rec = RecordFor(*shared, req);
        rec.target = "registry";
        rec.port = registry::kGuestPort;
        rec.method = s.method;
        rec.decision = s.status == 405 || s.status == 400 ? "deny" : "allow";
        rec.reason = s.reason;
        rec.bytes_down = s.bytes;
        rec.duration_ms = s.duration_ms;
        rec.endpoint = s.endpoint;
        rec.path = s.path;
        rec.status = s.status;
        rec.cache = s.cache;
        shared->audit.Append(rec);
      });
    });
  } catch (const std::system_error&) {  // no thread to be had: this connection ends
    stream->Cancel();
    (void)stream->Finish();
    shared->ReleaseSlot();
    return;
  }
  RelaySocketOverStream(ours.get(), *stream, IdleSeconds());
  shutdown(ours.get(), SHUT_RDWR);
  server.join();
  (void)stream->Finish();
  shared->ReleaseSlot();
}

}  // namespace ws::net
