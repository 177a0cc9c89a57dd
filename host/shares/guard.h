// The share guard: a supervisor beside each read-write share's virtiofsd.
// Through a seccomp user-notification filter it sees every call virtiofsd
// makes to create, open for writing, rename, link, chmod or delete a file,
// works out which path of the share the call names, and refuses it (EACCES)
// when that path is protected (protected_paths.h) — whether the path exists
// yet or not, which a bind mount in the view cannot cover. Every other call
// runs as virtiofsd asked. Refusals go to the audit log and the guard's
// state file; files host tools run that the guest made or changed go to the
// changes file (guard_log.h).
//
// Why this is sound against a hostile guest: virtiofsd copies each request
// out of guest memory before acting on it, so the path a call names cannot
// change between the guard's look and the kernel's; a path is placed by the
// kernel's own name for the directory fd (verified by walking it again
// beneath the view, without symlinks, to the same inode) and is refused when
// it cannot be placed; a protected path can only come to exist by a create,
// rename, link or symlink whose final name the guard sees. If the guard dies,
// the kernel fails every filtered call (ENOSYS): closed, not open.
#pragma once

#include <string>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "host/shares/protected_paths.h"

namespace ws::shares {

struct GuardConfig {
  std::string view;  // the share's view, as this mount namespace sees it
  ProtectionRules rules;
  std::string spec_dir;   // where the guard's state and changes files go
  std::string audit_log;  // the workspace's audit log ("" for none)
  std::string workspace;  // its name, for audit records
};

// Loads the guard's filter into the calling process and everything it
// execs; returns the listener to hand to RunGuard in another process.
Result<unique_fd> InstallGuardFilter();

// Answers the listener's notifications until no process uses the filter.
// Refuses what it cannot place; never lets a protected path through.
void RunGuard(unique_fd listener, const GuardConfig& c);

}  // namespace ws::shares
