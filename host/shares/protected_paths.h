// Which paths of a read-write share the guest may not create, change, rename
// or delete, whether they exist yet or not: the names the host's own tools
// read as configuration or run (git, the project file, editors' and coding
// agents' settings, direnv, hook managers, per-project package manager
// config). And which files the host runs, for `workspace changes`. Pure.
//
// A path here is relative to the share's top: components separated by one
// '/', no leading or trailing '/', "" for the top itself. Names compare
// ASCII-case-insensitively (a share may live on a case-insensitive
// filesystem, where ".GIT" is ".git").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"

namespace ws::shares {

struct ProtectionRules {
  // Worktree folders git's core.hooksPath names (found at start).
  std::vector<std::string> extra;
  // Paths the user opened to the guest (--writable): they and all below.
  std::vector<std::string> writable;
};

// The config paths host tools read, protected in every folder of a
// read-write share outside node_modules (".git" and "HEAD" are protected
// everywhere, node_modules included).
const std::vector<std::string>& ToolConfigPaths();

// The protected path `rel` is or falls under (".git", "pkg/.git",
// ".claude", "crates/x/.cargo/config.toml"), or "" when the guest may write it.
std::string ProtectedPrefix(std::string_view rel, const ProtectionRules& rules);

// Whether `rel` ends in a proper ancestor of a protected path (".cargo" of
// ".cargo/config.toml", "tools" of a hooks folder "tools/hooks"): it may be
// made as a directory, but not appear by a rename or as a symlink, which
// would bring the protected path with it.
bool LeadsToProtected(std::string_view rel, const ProtectionRules& rules);

// Whether a component of `rel` is node_modules (any case): where tools'
// config is not protected, so nothing may move in or out of it whole.
bool UnderNodeModules(std::string_view rel);

// The longest path the guest may make in a share (a mask over it must fit
// PATH_MAX); the secret scan covers folders past it.
inline constexpr size_t kMaxSharePath = 3072;

// A path a user may open with --writable: relative, normalised, no "..".
Status ValidateWritablePath(const std::string& rel);

// Whether the host's tools run `rel` or read it as instructions
// (package.json scripts, Makefiles, shell scripts, CI workflows, the prompt
// files coding agents read). node_modules is never listed.
bool IsHostRunFile(std::string_view rel);

// `rel` split into its components ("" -> none).
std::vector<std::string_view> PathComponents(std::string_view rel);

}  // namespace ws::shares
