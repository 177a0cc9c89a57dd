// TcpUpstream: the relay of an allowed connection to the address the policy
// checked, held to the name the guest asked for (TunnelGuard).
#include <netdb.h>
#include <sys/socket.h>

#include "host/common/tcp_connect.h"
#include "host/common/unique_fd.h"
#include "host/net/tunnel_guard.h"
#include "host/net/upstream.h"

namespace ws::net {
namespace {

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

class TcpUpstream final : public Upstream {
 public:
  TcpUpstream(unique_fd remote, std::string address, int idle_seconds, std::string host,
              uint16_t port, bool read_only)
      : remote_(std::move(remote)),
        address_(std::move(address)),
        idle_seconds_(idle_seconds),
        guard_(std::move(host), port, read_only) {}
  RelayCounts Handle(const Decision&, ByteStream& guest) override {
    return RelaySocketOverStream(
        remote_.get(), guest, idle_seconds_,
        [this](std::string_view in, std::string* out, std::string* reply, std::string* why) {
          if (guard_.Feed(in, out)) return true;
          *reply = guard_.reply();
          *why = guard_.refusal();
          return false;
        });
  }
  std::string address() const override { return address_; }

 private:
  unique_fd remote_;
  std::string address_;
  int idle_seconds_;
  TunnelGuard guard_;
};

}  // namespace

Connected ConnectChecked(const Decision& decision, const std::string& target, uint16_t port) {
  Connected out{decision, unique_fd(), ""};
  std::string host = target;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0) {
    out.decision.verdict = Verdict::kDeny;
    out.decision.reason = "cannot resolve " + host + ": " + gai_strerror(rc);
    return out;
  }
  Decision last = decision;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    IpAddress addr = FromSockaddr(ai->ai_addr);
    Decision check = CheckResolved(decision, addr);
    if (check.verdict != Verdict::kAllow) {
      last = check;
      continue;
    }
    auto fd = ConnectTcp(ai->ai_addr, ai->ai_addrlen, 10000);  // the address just checked
    if (fd.ok()) {
      out.fd = std::move(fd.value());
      out.address = addr.ToString();
      break;
    }
    last = decision;
    last.verdict = Verdict::kDeny;
    last.reason = "connecting to " + addr.ToString() + ": " + fd.status().message();
  }
  freeaddrinfo(res);
  if (!out.fd.valid()) out.decision = last;
  return out;
}

Dialed DialTcp(const Decision& decision, const std::string& target, uint16_t port, int idle_seconds,
               bool read_only) {
  Connected c = ConnectChecked(decision, target, port);
  Dialed out{c.decision, nullptr};
  if (c.fd.valid()) {
    out.upstream = std::make_unique<TcpUpstream>(std::move(c.fd), std::move(c.address),
                                                 idle_seconds, target, port, read_only);
  }
  return out;
}

}  // namespace ws::net
