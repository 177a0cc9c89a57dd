#include "host/net/egress_relay.h"

#include <errno.h>
#include <netdb.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "host/common/tcp_connect.h"
#include "host/common/unique_fd.h"
#include "host/net/stream_relay.h"

namespace ws::net {
namespace {

namespace v1 = workspace::v1;
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

IpAddress FromSockaddr(const sockaddr* sa) {
  IpAddress a;
  a.family = sa->sa_family;
  if (sa->sa_family == AF_INET) {
    a.v4 = reinterpret_cast<const sockaddr_in*>(sa)->sin_addr;
  } else {
    a.v6 = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
  }
  return a;
}

}  // namespace

// An audit record begun with what the guest said of the connection.
AuditRecord EgressRelay::RecordFor(const Shared& shared, const v1::EgressRequest& req) {
  AuditRecord rec;
  rec.time = NowRfc3339Millis();
  rec.workspace = shared.workspace;
  rec.exec_id = req.exec_id();
  rec.pid = req.pid();
  rec.command = req.command();
  return rec;
}

// An announcement not answered at all (the guest's proxy times its client
// out): audited, with what it named cut to the audit's bound.
void EgressRelay::Drop(Shared& shared, const v1::EgressRequest& req, const std::string& why) {
  AuditRecord rec = RecordFor(shared, req);
  rec.target = req.host().substr(0, kMaxAuditField);
  rec.port = req.port();
  rec.method = req.method().substr(0, kMaxAuditField);
  rec.decision = "deny";
  rec.reason = "dropped: " + why;
  shared.audit.Append(rec);
}

bool EgressRelay::Shared::AcquireSlot() {
  std::unique_lock lock(mu);
  if (!slot_freed.wait_for(lock, std::chrono::seconds(kTunnelWaitSeconds), [&] { return open_tunnels < kMaxTunnels; })) {
    return false;
  }
  ++open_tunnels;
  return true;
}

void EgressRelay::Shared::ReleaseSlot() {
  {
    std::lock_guard lock(mu);
    --open_tunnels;
  }
  slot_freed.notify_one();
}

EgressRelay::EgressRelay(std::string workspace, AgentFn agent, std::vector<AllowEntry> allow,
                         std::string audit_path, registry::Registry* registry, uid_t owner, bool private_ok)
    : agent_(std::move(agent)),
      shared_(std::make_shared<Shared>(std::move(workspace), std::move(audit_path), std::move(allow), registry,
                                       owner, private_ok)) {
  watcher_ = std::thread([this] { WatchLoop(); });
}

EgressRelay::~EgressRelay() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (watch_) watch_->TryCancel();
    cv_.notify_all();
  }
  watcher_.join();
}

void EgressRelay::SetAllowlist(std::vector<AllowEntry> allow, bool private_ok) {
  std::lock_guard lock(shared_->mu);
  shared_->allow = std::move(allow);
  shared_->private_ok = private_ok;
}

void EgressRelay::WatchLoop() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto agent = agent_();
    if (agent.ok()) {
      grpc::ClientContext ctx;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        watch_ = &ctx;
      }
      auto reader = agent.value()->stub()->WatchEgress(&ctx, v1::WatchEgressRequest());
      v1::EgressRequest req;
      while (reader->Read(&req)) {
        // A thread per announcement, bounded: past kMaxHandlers an
        // announcement is dropped, and the guest's proxy answers its client
        // 504 when it hears nothing (a flooding guest gets no host threads).
        // No host name is longer than 255 bytes: a longer one is dropped
        // before anything copies it. The other strings are cut as the audit
        // would and unknown fields dropped: a handler holds a few KiB,
        // whatever the guest sent.
        req.DiscardUnknownFields();
        if (req.command().size() > kMaxAuditField) req.mutable_command()->resize(kMaxAuditField);
        if (req.method().size() > kMaxAuditField) req.mutable_method()->resize(kMaxAuditField);
        if (req.exec_id().size() > kMaxAuditField) req.mutable_exec_id()->resize(kMaxAuditField);
        if (req.host().size() > kMaxHostName) {
          Drop(*shared_, req, "a host name longer than " + std::to_string(kMaxHostName) + " bytes");
          continue;
        }
        if (shared_->handlers.fetch_add(1) >= kMaxHandlers) {
          --shared_->handlers;
          Drop(*shared_, req, "more than " + std::to_string(kMaxHandlers) + " connections waiting at once");
          continue;
        }
        try {
          std::thread([shared = shared_, a = agent.value(), req] {
            Handle(shared, a, req);
            --shared->handlers;
          }).detach();
        } catch (const std::system_error&) {  // no thread to be had: this one is dropped
          --shared_->handlers;
          Drop(*shared_, req, "the host has no thread for it");
        }
      }
      grpc::Status s = reader->Finish();
      agent.value()->Observe(s);
      std::lock_guard lock(mu_);
      watch_ = nullptr;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
  }
}

void EgressRelay::Handle(std::shared_ptr<Shared> shared, std::shared_ptr<guest::GrpcGuestAgent> agent,
                         v1::EgressRequest req) {
  const auto t0 = Clock::now();
  AuditRecord rec = RecordFor(*shared, req);
  rec.target = req.host();
  rec.port = req.port();
  rec.method = req.method();

  if (req.method() == "REGISTRY" && shared->registry) return ServeRegistry(shared, *agent, req);
  Decision d;
  {
    std::lock_guard lock(shared->mu);
    d = Decide(shared->allow, req.host(), static_cast<uint16_t>(req.port() > 65535 ? 0 : req.port()));
    d.entry = nullptr;  // points into the list, which may change: not used past here
    if (!shared->private_ok) d.explicit_entry = false;
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
  unique_fd remote;
  if (d.verdict == Verdict::kAllow) {
    std::string host = req.host();
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(req.port());
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) {
      d.verdict = Verdict::kDeny;
      d.reason = "cannot resolve " + host + ": " + gai_strerror(rc);
    } else {
      Decision last = d;
      for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        IpAddress addr = FromSockaddr(ai->ai_addr);
        Decision check = CheckResolved(d, addr);
        if (check.verdict != Verdict::kAllow) {
          last = check;
          continue;
        }
        auto fd = ConnectTcp(ai->ai_addr, ai->ai_addrlen, 10000);  // the address just checked
        if (fd.ok()) {
          remote = std::move(fd.value());
          rec.address = addr.ToString();
          break;
        }
        last = d;
        last.verdict = Verdict::kDeny;
        last.reason = "connecting to " + addr.ToString() + ": " + fd.status().message();
      }
      freeaddrinfo(res);
      if (!remote) d = last;
    }
  }

  grpc::ClientContext ctx;
  // A refusal is one message each way: a guest that never closes the call
  // gets it closed for it.
  if (d.verdict != Verdict::kAllow) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kTunnelWaitSeconds));
  }
  auto stream = agent->stub()->Tunnel(&ctx);
  v1::TunnelMessage open;
  open.mutable_open()->set_id(req.id());
  open.mutable_open()->set_allow(d.verdict == Verdict::kAllow);
  open.mutable_open()->set_reason(d.reason);
  stream->Write(open);
  RelayCounts counts;
  if (d.verdict == Verdict::kAllow) {
    counts = RelaySocketOverStream(remote.get(), stream.get(), &ctx, IdleSeconds());
  } else {
    stream->WritesDone();
  }
  agent->Observe(stream->Finish());
  if (slot) shared->ReleaseSlot();
  rec.decision = d.verdict == Verdict::kAllow ? "allow" : "deny";
  rec.reason = d.reason;
  rec.bytes_up = counts.guest_to_socket;
  rec.bytes_down = counts.socket_to_guest;
  rec.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  shared->audit.Append(rec);
}

// The guest's registry port: the host's Registry speaks HTTP on one end of
// a socket pair, the other end relayed over the Tunnel like any connection.
// One audit line per request, none for the connection.
void EgressRelay::ServeRegistry(const std::shared_ptr<Shared>& shared, guest::GrpcGuestAgent& agent,
                                const v1::EgressRequest& req) {
  int pair[2];
  const bool slot = shared->AcquireSlot();
  const bool ok = slot && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0;
  grpc::ClientContext ctx;
  // A refusal is one message each way: a guest that never closes the call
  // gets it closed for it.
  if (!ok) ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kTunnelWaitSeconds));
  auto stream = agent.stub()->Tunnel(&ctx);
  v1::TunnelMessage open;
  open.mutable_open()->set_id(req.id());
  open.mutable_open()->set_allow(ok);
  open.mutable_open()->set_reason(ok ? "" : "the host's registry endpoints are busy; try again");
  stream->Write(open);
  if (!ok) {
    stream->WritesDone();
    agent.Observe(stream->Finish());
    if (slot) shared->ReleaseSlot();
    return;
  }
  unique_fd ours(pair[0]);
  unique_fd theirs_fd(pair[1]);
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
    ctx.TryCancel();
    agent.Observe(stream->Finish());
    shared->ReleaseSlot();
    return;
  }
  RelaySocketOverStream(ours.get(), stream.get(), &ctx, IdleSeconds());
  shutdown(ours.get(), SHUT_RDWR);
  server.join();
  agent.Observe(stream->Finish());
  shared->ReleaseSlot();
}

}  // namespace ws::net
