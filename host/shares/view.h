// The host-side view of one share, built in the calling process's (new,
// private) mount namespace right before virtiofsd starts, so it can neither
// leak onto the user's real files nor be undone from the host, and it
// vanishes with virtiofsd:
//  - read-only shares: a recursive read-only, nosuid, nodev bind;
//  - read-write shares: a recursive idmapped, nosuid, nodev bind (guest uid
//    1000 <-> the owner, guest root <-> a dedicated unprivileged uid, every
//    other uid unmapped), with the git directory (and a worktree hooks
//    folder that git's config names) bound read-only inside it;
//  - secret files (.npmrc, .env, ...) covered by an empty read-only file.
#pragma once

#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/shares/share_config.h"

namespace ws::shares {

struct ViewReport {
  std::vector<std::string> hidden;     // secret files masked
  std::vector<std::string> protected_; // paths bound read-only (git)
};

// Enters a new private mount namespace and builds the view of `c` at
// `spec_dir/view`. Needs CAP_SYS_ADMIN.
Result<ViewReport> BuildView(const ShareConfig& c, const std::string& spec_dir);

// What a read-write share shows read-only: ".git" when present, the worktree
// folder core.hooksPath names in .git/config (if inside the share), and the
// project file .workspace.toml (the guest must not widen its own policy).
std::vector<std::string> GitPathsToProtect(const std::string& host_path);

}  // namespace ws::shares
