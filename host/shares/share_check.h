// The daemon's checks of a share a caller asks for, made with that caller's
// rights (never the daemon's root): the folder must exist, be a directory,
// be readable (and writable for rw) by the caller, not be / or the caller's
// home (unless allowed), and not overlap the state dir.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "host/shares/share_spec.h"

namespace ws::shares {

struct ShareOwner {
  uid_t uid = 0;  // host ids the guest user's files get
  gid_t gid = 0;
  uint64_t dev = 0;  // the directory shared, as the caller reached it
  uint64_t ino = 0;
};

// On success, spec.host_path is canonical (symlinks resolved) and the owner
// is the caller, or the folder's owner when root calls. `allow_dangerous`
// (/ or the home folder) is honoured for root only.
Result<ShareOwner> CheckShareForCaller(ShareSpec& spec, uid_t caller_uid, gid_t caller_gid,
                                       const std::string& state_dir, bool allow_dangerous);

struct DirIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
};

// As `uid` (a child process with its ids and groups; as root for 0): opens
// `path` without following a symlink in any component (openat2 with
// RESOLVE_NO_SYMLINKS), checks `mode` access to it, and returns which
// directory it is. The errors say what is wrong in a sentence that names
// `path`: missing, a symlink on the way, unreachable, no `mode` access.
Result<DirIdentity> IdentifyDirectoryAs(uid_t uid, gid_t gid, const std::string& path, int mode);

// The directory at `path` reached without following a symlink (an O_PATH
// fd), for the wrapper that binds it.
Result<unique_fd> OpenDirectoryNoSymlinks(const std::string& path);

// The host ids guest root maps to (the system user kGuestRootUser).
Result<ShareOwner> GuestRootIds();

}  // namespace ws::shares
