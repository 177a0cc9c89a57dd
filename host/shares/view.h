// The host-side view of one share, built in the calling process's (new,
// private) mount namespace right before virtiofsd starts, so it can neither
// leak onto the user's real files nor be undone from the host, and it
// vanishes with virtiofsd:
//  - the shared directory is opened without following a symlink in any
//    component and must be the one create recorded (device and inode);
//  - read-write shares: a recursive idmapped, nosuid, nodev bind (guest uid
//    1000 <-> the owner, guest root <-> a dedicated unprivileged uid, every
//    other uid unmapped), with the git directory (and a worktree hooks
//    folder that git's config names) bound read-only inside it;
//  - a member's read-only shares: the same idmapped bind with only the
//    owner mapped, read-only; root's: a plain read-only, nosuid, nodev bind.
//    The kernel grants virtiofsd's root capabilities over a file's mode only
//    when the file's owner and group are mapped in the mount, so guest root
//    reaches another user's files with their "other" bits alone;
//  - secrets at every depth (secrets.h) covered by an empty read-only file
//    or folder, or by a copy without their credentials; the git config
//    without the credentials in its URLs.
#pragma once

#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/shares/protected_paths.h"
#include "host/shares/share_config.h"

namespace ws::shares {

struct ViewReport {
  std::vector<std::string> hidden;      // secrets covered by an empty file or folder
  std::vector<std::string> stripped;    // config files given without their credentials
  std::vector<std::string> protected_;  // paths bound read-only (git)
  bool scan_cut = false;                // the secret scan stopped at its bound
  size_t scan_entries = 0;              // entries the scan looked at (not in view.report)
  double scan_ms = 0;                   // and how long it took
};

// What the last view of a share covered, in its spec dir for inspect
// (Printable paths; written by the wrapper, read by the daemon).
inline constexpr char kViewReportFile[] = "view.report";
void WriteViewReport(const std::string& spec_dir, const ViewReport& r);
ViewReport ReadViewReport(const std::string& spec_dir);

// Enters a new private mount namespace and builds the view of `c` at
// `spec_dir/view`. Needs CAP_SYS_ADMIN.
Result<ViewReport> BuildView(const ShareConfig& c, const std::string& spec_dir);

// What a read-write share's view binds read-only, beside the guard: ".git"
// when present, the worktree folders core.hooksPath names in .git/config
// that exist, and the project file .workspace.toml.
std::vector<std::string> GitPathsToProtect(const std::string& host_path);

// The worktree folders core.hooksPath names in the share's .git/config,
// and the worktree files its include.path / includeIf.*.path name (whether
// they exist or not), relative to the share; the config is read from
// `read_from` (the view) when given.
std::vector<std::string> GitHooksFolders(const std::string& host_path,
                                         const std::string& read_from = "");

// Every path the guard protects under `rules` (less the writable ones), for
// inspect: the fixed list, then the extra.
std::vector<std::string> ProtectedPaths(const ProtectionRules& rules);

}  // namespace ws::shares
