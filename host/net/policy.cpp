#include "host/net/policy.h"

#include <algorithm>
#include <charconv>

namespace ws::net {
namespace {

bool PortOk(const AllowEntry& e, uint16_t port) {
  return e.port == 0 ? (port == 80 || port == 443) : e.port == port;
}

}  // namespace

std::string AllowEntry::ToString() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port ? h + ":" + std::to_string(port) : h;
}

std::optional<std::string> NormalizeHostName(std::string_view in) {
  std::string s(in);
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s.empty() || s.size() > 253) return std::nullopt;
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return std::nullopt;
  }
  // One trailing dot is the root label; any other empty label is refused.
  if (s.front() == '.' || s.back() == '.' || s.find("..") != std::string::npos) return std::nullopt;
  return s;
}

Result<AllowEntry> ParseAllowEntry(std::string_view spec_in, std::string source) {
  std::string spec(spec_in);
  AllowEntry e;
  e.source = std::move(source);
  std::string host = spec, port;
  if (!spec.empty() && spec.front() == '[') {
    auto close = spec.find(']');
    if (close == std::string::npos)
      return Status(Code::kInvalidArgument, "bad address '" + spec + "'");
    host = spec.substr(1, close - 1);
    if (close + 1 < spec.size()) {
      if (spec[close + 1] != ':')
        return Status(Code::kInvalidArgument, "bad address '" + spec + "'");
      port = spec.substr(close + 2);
    }
  } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
    host = spec.substr(0, spec.find(':'));
    port = spec.substr(spec.find(':') + 1);
  }
  if (!port.empty()) {
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) {
      return Status(Code::kInvalidArgument, "bad port in '" + spec + "' (1-65535)");
    }
    e.port = static_cast<uint16_t>(p);
  }
  if (auto ip = ParseIpLiteral(host)) {
    e.host = ip->ToString();
    return e;
  }
  bool wildcard = host.rfind("*.", 0) == 0;
  auto name = NormalizeHostName(wildcard ? host.substr(2) : host);
  if (!name) {
    return Status(Code::kInvalidArgument,
                  "'" + spec + "' is not a host name, *.domain or IP address");
  }
  e.host = wildcard ? "*." + *name : *name;
  return e;
}

Decision Decide(const std::vector<AllowEntry>& allow, std::string_view host, uint16_t port) {
  Decision d;
  if (auto ip = ParseIpLiteral(host)) {
    const std::string canon = ip->ToString();
    for (const auto& e : allow) {
      if (e.host == canon && PortOk(e, port)) {
        d = {Verdict::kAllow, "address allowed by " + e.ToString(), &e, true};
        return d;
      }
    }
    d.reason = "IP address " + canon + " (" + AddressClassName(Classify(*ip)) +
               ") is not on the allowlist";
    return d;
  }
  auto name = NormalizeHostName(host);
  if (!name) {
    d.reason = "'" + std::string(host) + "' is not a valid host name";
    return d;
  }
  bool name_listed = false;
  for (const auto& e : allow) {
    bool match = e.is_wildcard() ? (name->size() > e.host.size() - 1 &&
                                    name->compare(name->size() - (e.host.size() - 1),
                                                  std::string::npos, e.host.substr(1)) == 0)
                                 : e.host == *name;
    if (!match) continue;
    name_listed = true;
    if (PortOk(e, port)) {
      return {Verdict::kAllow, "allowed by " + e.ToString() + " (" + e.source + ")", &e,
              !e.is_wildcard() && e.source == "user"};
    }
  }
  d.reason = name_listed ? "port " + std::to_string(port) + " of " + *name + " is not allowed"
                         : *name + " is not on the allowlist";
  return d;
}

Decision CheckResolved(const Decision& d, const IpAddress& addr) {
  if (d.verdict != Verdict::kAllow) return d;
  AddressClass c = Classify(addr);
  if (IsPublic(c) || d.explicit_entry) return d;
  Decision denied = d;
  denied.verdict = Verdict::kDeny;
  denied.reason = "resolves to " + addr.ToString() + " (" + AddressClassName(c) +
                  "); only an exact name or address added with --allow may reach such addresses";
  return denied;
}

}  // namespace ws::net
