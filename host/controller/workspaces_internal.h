// Helpers shared by the files that implement Workspaces (workspaces.cpp,
// workspace_create.cpp, workspace_boot.cpp, workspace_images.cpp,
// workspace_settings.cpp): not part of its interface.
#pragma once

#include <string>

#include "host/common/status.h"
#include "host/controller/caller.h"
#include "host/controller/member_policy.h"
#include "host/virt/hypervisor.h"
#include "host/virt/metadata.h"

namespace ws::controller::internal {

// "no workspace named NAME", and what to type.
Status NotFound(const std::string& name);
// Why a workspace's guest cannot be reached, and what to do.
Status NotRunning(const std::string& name, virt::VmState state);
// May the entries the user typed reach non-public addresses? Root's
// workspaces, and members' when the daemon's policy says so.
bool PrivateOk(const virt::WorkspaceMeta& meta);
// May an unnumbered publish take the guest's own port number on the host?
bool LowPortOk(const Caller& c, const MemberPolicy& p, uint16_t guest);
// The workspace's own files: 0600, root's, in its 0711 dir.
Status WritePrivateFile(const std::string& path, const std::string& text);
// A random (version 4) UUID.
std::string NewUuid();
// The kernel parameters every guest boots with (besides its workspace.* words).
std::string KernelCmdline(const std::string& boot_words);

}  // namespace ws::controller::internal
