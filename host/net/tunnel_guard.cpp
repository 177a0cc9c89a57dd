#include "host/net/tunnel_guard.h"

#include <optional>

#include "host/net/address.h"
#include "host/net/client_hello.h"
#include "host/net/policy.h"

namespace ws::net {
namespace {

// The longest method we wait for before deciding the bytes are not HTTP.
constexpr size_t kMaxMethod = 24;

enum class Looks { kHttp, kMaybe, kNo };

// An HTTP/1.x request begins with a method (letters: servers differ on
// case, and on blank lines before it, so both count) and a space.
Looks LooksLikeHttp(std::string_view b) {
  size_t start = 0;
  while (start < b.size() && (b[start] == '\r' || b[start] == '\n')) ++start;
  if (start > kMaxMethod) return Looks::kHttp;  // blank lines only: HttpRequestFilter judges
  for (size_t i = start; i < b.size() && i - start <= kMaxMethod; ++i) {
    if (b[i] == ' ') return i > start ? Looks::kHttp : Looks::kNo;
    const char c = b[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return Looks::kNo;
  }
  return b.size() - start <= kMaxMethod ? Looks::kMaybe : Looks::kNo;
}

// "host", "host:port", "[v6]", "[v6]:port" -> host and port text.
bool SplitAuthority(std::string_view a, std::string_view* host, std::string_view* port) {
  if (!a.empty() && a.front() == '[') {
    const size_t close = a.find(']');
    if (close == std::string_view::npos) return false;
    *host = a.substr(0, close + 1);
    std::string_view rest = a.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    *port = rest.substr(1);
    return true;
  }
  const size_t colon = a.rfind(':');
  *host = a.substr(0, colon);
  if (colon != std::string_view::npos) *port = a.substr(colon + 1);
  return true;
}

bool IsWebPort(uint16_t port) { return port == 80 || port == 443; }

}  // namespace

TunnelGuard::TunnelGuard(std::string host, uint16_t port, bool read_only)
    : host_([&] {
        if (ParseIpLiteral(host)) return host;
        return NormalizeHostName(host).value_or(host);
      }()),
      host_is_ip_(ParseIpLiteral(host).has_value()),
      port_(port),
      read_only_(read_only) {}

TunnelGuard::~TunnelGuard() = default;

const char* TunnelGuard::kind() const {
  switch (mode_) {
    case Mode::kTls:
      return "tls";
    case Mode::kHttp:
      return "http";
    case Mode::kOther:
      return "other";
    case Mode::kSniff:
    case Mode::kRefused:
      break;
  }
  return "";
}

bool TunnelGuard::Refuse(std::string why, std::string reply) {
  mode_ = Mode::kRefused;
  refusal_ = std::move(why);
  reply_ = std::move(reply);
  buffered_.clear();
  return false;
}

bool AuthorityIsHost(std::string_view authority, std::string_view host, uint16_t port) {
  std::string_view name, given_port;
  if (!SplitAuthority(authority, &name, &given_port)) return false;
  if (!given_port.empty() && given_port != std::to_string(port)) return false;
  if (ParseIpLiteral(host)) {
    // inet_aton stops at whitespace and a zone is cut off: only address characters.
    if (name.find_first_not_of("0123456789abcdefABCDEFxX.:[]") != std::string_view::npos) {
      return false;
    }
    auto a = ParseIpLiteral(name), b = ParseIpLiteral(host);
    return a && b && *a == *b;
  }
  return NormalizeHostName(name) == host;
}

Refusal TunnelGuard::CheckHost(RequestHead* head) const {
  if (read_only_ && head->method != "GET" && head->method != "HEAD") {
    return {403, head->method + " to the package registry " + host_ +
                     " is refused: registries are read-only in a workspace (publishing is an "
                     "upload)"};
  }
  auto fronting = [&](const std::string& named) {
    return Refusal{421,
                   "Host '" + named.substr(0, 255) + "' is not " + host_ +
                       ", the host this connection was allowed to (domain fronting is refused)"};
  };
  if (!head->authority.empty() && !AuthorityIsHost(head->authority, host_, port_))
    return fronting(head->authority);
  const auto hosts = head->All("host");
  if (hosts.empty()) {  // HTTP/1.0: the one this connection goes to
    head->headers.push_back({"Host", port_ == 80 ? host_ : host_ + ":" + std::to_string(port_)});
    return {};
  }
  if (!AuthorityIsHost(hosts.front(), host_, port_)) return fronting(hosts.front());
  return {};
}

bool TunnelGuard::Sniff(std::string* out) {
  ClientHello hello;
  switch (ParseClientHello(buffered_, &hello)) {
    case HelloStatus::kNeedMore:
      return true;
    case HelloStatus::kMalformed:
      return Refuse("a malformed TLS ClientHello", "");
    case HelloStatus::kComplete: {
      if (hello.encrypted) {
        return Refuse("an encrypted ClientHello (ECH): its server name cannot be checked", "");
      }
      if (host_is_ip_ && hello.has_sni) {
        return Refuse("TLS server name " + hello.server_name + " on a connection to the address " +
                          host_ + " (domain fronting is refused)",
                      "");
      }
      if (!host_is_ip_ && !hello.has_sni) {
        return Refuse("a TLS ClientHello without a server name (SNI) to " + host_, "");
      }
      if (!host_is_ip_ && NormalizeHostName(hello.server_name) != host_) {
        return Refuse("TLS server name " + hello.server_name + " is not " + host_ +
                          ", the host this connection was allowed to (domain fronting is refused)",
                      "");
      }
      mode_ = Mode::kTls;
      out->append(buffered_);
      buffered_.clear();
      return true;
    }
    case HelloStatus::kNotTls:
      break;
  }
  switch (LooksLikeHttp(buffered_)) {
    case Looks::kMaybe:
      return true;
    case Looks::kHttp: {
      mode_ = Mode::kHttp;
      http_ = std::make_unique<HttpRequestFilter>(
          [this](RequestHead* head) { return CheckHost(head); });
      std::string held;
      held.swap(buffered_);
      return Feed(held, out);
    }
    case Looks::kNo:
      break;
  }
  if (IsWebPort(port_)) {
    return Refuse("neither TLS nor HTTP on port " + std::to_string(port_),
                  RefusalResponse({400, "neither TLS nor HTTP on port " + std::to_string(port_)}));
  }
  mode_ = Mode::kOther;
  out->append(buffered_);
  buffered_.clear();
  return true;
}

bool TunnelGuard::Feed(std::string_view in, std::string* out) {
  switch (mode_) {
    case Mode::kRefused:
      return false;
    case Mode::kTls:
    case Mode::kOther:
      out->append(in);
      return true;
    case Mode::kHttp:
      if (http_->Feed(in, out)) return true;
      // Answers to earlier requests may be on their way: only the first
      // request's refusal is told in HTTP.
      return Refuse(http_->refusal().reason,
                    http_->requests() == 0 ? RefusalResponse(http_->refusal()) : "");
    case Mode::kSniff:
      buffered_.append(in);
      return Sniff(out);
  }
  return false;
}

}  // namespace ws::net
