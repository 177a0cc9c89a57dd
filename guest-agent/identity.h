// Identity: who the guest is — host name, machine-id, git identity and
// shares — and a fresh random state. At a cold boot it comes from the
// kernel's command line (Boot()); a guest restored from a template (issue
// #24) was booted with none of it and gets it from the host over
// Configure before any command runs. Applying is idempotent and
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/common/boot_params.h"
#include "host/common/status.h"

namespace ws::agent {

struct Identity {
  std::string hostname;
  std::string machine_id;  // 32 lowercase hex; "" leaves the file alone
  std::string git_name, git_email;
  std::vector<boot::ShareMount> shares;
  std::string entropy;       // mixed into the pool, then the pool reseeds
  int64_t unix_time_ns = 0;  // the clock is set to it; 0: left alone
};

// What the kernel's command line says (no machine-id, entropy or time).
Identity BootIdentity();

// Ok when every field is within its bounds (the host is trusted, the
// check keeps a bug from writing outside /etc or mounting over /).
Status CheckIdentity(const Identity& id);

// Sets the clock and the random state first, then the rest. Shares
// mounted already stay; a share whose device has not appeared yet (just
// hot-plugged) is waited for, up to a few seconds.
Status ApplyIdentity(const Identity& id);

// The shares mounted so far (power off unmounts them).
std::vector<boot::ShareMount> MountedShares();

}  // namespace ws::agent
