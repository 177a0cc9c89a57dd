// MemberPolicy: what the root daemon does for a caller who is not root (a
// member of the `workspace` group) beyond what they could do from their own
// shell. Defaults are safe; the host's admin widens them in the daemon's
// config (WORKSPACE_DAEMON_CONFIG, default /etc/workspace/daemon.toml):
//
//   [members]
//   allow_low_ports = false      # publish host ports below 1024
//   allow_private_hosts = false  # allow entries reaching loopback, private,
//                                # link-local addresses (the daemon's own
//                                # network position, past uid firewall rules)
//
// Read at each request, so a change needs no restart. Root callers are
// never limited by it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/net/policy.h"

namespace ws::controller {

inline constexpr char kDaemonConfigDefault[] = "/etc/workspace/daemon.toml";

struct MemberPolicy {
  bool allow_low_ports = false;
  bool allow_private_hosts = false;
};

// The policy in TOML text; an unknown key or a wrong type is an error.
Result<MemberPolicy> ParseMemberPolicy(const std::string& text);

// The policy in force: from `path` (a missing file: the defaults). A file
// that does not parse gives the defaults, the safe choice.
MemberPolicy LoadMemberPolicy(const std::string& path);
// The path from WORKSPACE_DAEMON_CONFIG, else the default.
std::string DaemonConfigPath();

// Refusals naming the policy; Ok for root or when the policy allows it.
Status CheckHostPort(const MemberPolicy& p, uid_t caller, uint16_t host_port);
Status CheckAllowEntry(const MemberPolicy& p, uid_t caller, const net::AllowEntry& e);

// The labels the daemon knows for allowlist entries: "user" (typed by the
// user; only these may reach non-public addresses) and the default sources.
bool IsKnownAllowSource(const std::string& source);

}  // namespace ws::controller
