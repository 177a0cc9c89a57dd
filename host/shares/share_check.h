// The daemon's checks of a share a caller asks for, made with that caller's
// rights (never the daemon's root): the folder must exist, be a directory,
// be readable (and writable for rw) by the caller, not be / or the caller's
// home (unless allowed), and not overlap the state dir.
#pragma once

#include <sys/types.h>

#include <string>

#include "host/common/status.h"
#include "host/shares/share_spec.h"

namespace ws::shares {

struct ShareOwner {
  uid_t uid = 0;  // host ids the guest user's files get
  gid_t gid = 0;
};

// On success, spec.host_path is canonical (symlinks resolved) and the owner
// is the caller, or the folder's owner when root calls.
Result<ShareOwner> CheckShareForCaller(ShareSpec& spec, uid_t caller_uid, gid_t caller_gid,
                                       const std::string& state_dir, bool allow_dangerous);

// The host ids guest root maps to (the system user kGuestRootUser).
Result<ShareOwner> GuestRootIds();

}  // namespace ws::shares
