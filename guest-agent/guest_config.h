// Settings the agent writes into a disk root (the debian image) at each
// boot, so they follow the workspace rather than the image: the egress
// proxy for apt, npm, pip, git and login shells (removed again under
// --net open), the host name in /etc/hosts, and the user's git identity
// from the host, and for each read-write share holding a git repository, a
// git directory of the guest's own over the host's read-only .git.
#pragma once

#include <string>

#include "host/common/net_mode.h"

namespace ws::agent {

// Failures are logged, not fatal.
void ConfigureGuest(NetMode net_mode);

// Writes `text` to `path` unless it holds it already: a file rewritten the
// same at each boot would show in `workspace diff` as changed.
void WriteIfChanged(const std::string& path, const std::string& text);

// /etc/hostname and /etc/hosts for the host name `host`.
void WriteGuestHostName(const std::string& host);

// /etc/gitconfig: the user's identity (either may be empty), every folder
// safe, and the egress proxy when `proxied`.
void WriteGitConfig(const std::string& name, const std::string& email, bool proxied);

// The guest's own git directory over a read-write share's .git (see the
// definition).
void SetUpGuestGit(const std::string& tag, const std::string& share);

}  // namespace ws::agent
