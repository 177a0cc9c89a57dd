// Why a file a guest added or changed matters (issue #23's diff): setuid
// and setgid bits, paths a shell runs at login, the system at boot or on a
// schedule, directories on PATH, git hooks, account files, executables.
// Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ws::tripwire {

// Most important first: "setuid", "setgid", "runs-at-login", "runs-at-boot",
// "scheduled", "on-path", "git-hook", "account", "executable". Empty: none.
// `mode`: st_mode (type and permission bits); `path`: absolute in the guest.
std::vector<std::string> ChangeFlags(const std::string& path, uint32_t mode);

// For sorting: lower comes first (0 for setuid .. 9 for no flag).
int FlagRank(const std::vector<std::string>& flags);

}  // namespace ws::tripwire
