// Settings the agent writes into a disk root (the debian image) at each
// boot, so they follow the workspace rather than the image: the egress
// proxy for apt, npm, pip, git and login shells (removed again under
// --net open), the host name in /etc/hosts, and the user's git identity
// from the host, and for each read-write share holding a git repository, a
// git directory of the guest's own over the host's read-only .git.
#pragma once

#include <string>

namespace ws::agent {

// net_mode: "allowlist", "none" or "open". Failures are logged, not fatal.
void ConfigureGuest(const std::string& net_mode);

// %XX-decodes a kernel command line value (the host encodes spaces and
// anything outside [A-Za-z0-9._@+-]); control characters are dropped.
std::string PercentDecode(const std::string& s);

}  // namespace ws::agent
