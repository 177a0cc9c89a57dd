// ShareConfig: what the daemon tells workspace-virtiofsd about one share, in
// STATE/workspaces/NAME/shares/N/share.conf (libvirt can only pass the
// wrapper a source directory; the file sits in it). key=value lines.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "host/common/status.h"

namespace ws::shares {

struct ShareConfig {
  std::string host_path;
  bool read_only = false;
  uid_t owner_uid = 0;  // host uid the guest's uid 1000 becomes (rw shares)
  gid_t owner_gid = 0;
  uid_t root_uid = 0;  // host uid the guest's root becomes: dedicated, never 0
  gid_t root_gid = 0;
  std::vector<std::string> shown;  // secret files not to hide
  // The directory `create` recorded (0 for a workspace made before this was
  // recorded): the wrapper refuses a host_path that is another directory now.
  uint64_t dev = 0;
  uint64_t ino = 0;
  // A member's share: guest root may override file modes only on the owner's
  // files (an idmapped view, read-only ones too). A root caller's read-only
  // share is a plain bind, as root can read everything anyway.
  bool owner_rights = true;
  // Read-write shares: what the guard protects beyond its fixed list (git's
  // hooks folder, found at start) and what the user opened (--writable),
  // relative to the share's top; the workspace's name and audit log.
  std::vector<std::string> protect;
  std::vector<std::string> writable;
  std::string workspace;
  std::string audit_log;
  bool guard = true;  // false only for benchmarks (the daemon's WORKSPACE_SHARE_GUARD=off)
};

inline constexpr uid_t kGuestUserId = 1000;
inline constexpr char kConfigFile[] = "share.conf";
inline constexpr char kViewDir[] = "view";
// The system user guest root maps to (made by scripts/setup).
inline constexpr char kGuestRootUser[] = "workspace-guest";

std::string RenderShareConfig(const ShareConfig& c);
Result<ShareConfig> ParseShareConfig(const std::string& text);

}  // namespace ws::shares
