// The egress allowlist: entries are host names (exact, or `*.example.org`
// for any subdomain), or IP literals, each with an optional port (default:
// 80 and 443). Matching is by the name the guest asked for, before any DNS.
// Pure functions; the relay that acts on them lives in egress.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"
#include "host/net/address.h"

namespace ws::net {

struct AllowEntry {
  std::string host;     // lowercase name, "*.suffix", or a canonical IP literal
  uint16_t port = 0;    // 0: 80 and 443
  std::string source;   // where it came from: "user", "apt", "npm", "pip", "ai-apis", ...
  bool writes = false;  // a package registry: writes (publish, upload) allowed, not read-only
  bool is_wildcard() const { return host.rfind("*.", 0) == 0; }
  std::string ToString() const;  // "host[:port]" (IPv6 in brackets)
};

// "HOST[:PORT]" / "[v6]:PORT" / "*.example.org". kInvalidArgument on junk.
Result<AllowEntry> ParseAllowEntry(std::string_view spec, std::string source);

// Lowercases and strips one trailing dot; rejects what is not a host name.
std::optional<std::string> NormalizeHostName(std::string_view name);

enum class Verdict { kAllow, kDeny };

struct Decision {
  Verdict verdict = Verdict::kDeny;
  std::string reason;  // why (shown to users and in the audit log)
  const AllowEntry* entry = nullptr;
  // An exact entry the user added (not a default, not a wildcard): only
  // then may the target resolve to a non-public address.
  bool explicit_entry = false;
  bool by_wildcard = false;  // allowed by a *.domain entry
};

// Decides on the target as asked (name or IP literal, and port).
Decision Decide(const std::vector<AllowEntry>& allow, std::string_view host, uint16_t port);

// After resolution: may `addr` be connected to under `d`?
Decision CheckResolved(const Decision& d, const IpAddress& addr);

}  // namespace ws::net
