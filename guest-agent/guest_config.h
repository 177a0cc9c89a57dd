// Settings the agent writes into a disk root (the debian image) at each
// boot, so they follow the workspace rather than the image: the egress
// proxy for apt, npm, pip, git and login shells (removed again under
// --net open), the host name in /etc/hosts, and the user's git identity
// from the host, and for each read-write share holding a git repository, a
// git directory of the guest's own over the host's read-only .git.
#pragma once

#include "host/common/net_mode.h"

namespace ws::agent {

// Failures are logged, not fatal.
void ConfigureGuest(NetMode net_mode);

}  // namespace ws::agent
