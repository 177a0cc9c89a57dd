// Which pushes to GitHub a workspace may make (issue #22): `--push
// OWNER/REPO[:REF_GLOB]`. A repository not listed takes no push. A listed
// one takes updates to the refs its globs match; without globs,
// refs/heads/agent/* and refs/heads/workspace/* (never the default branch
// unless named). A glob without "refs/" names branches (refs/heads/ is put
// before it); '*' spans '/'. A tag is created only where a glob under
// refs/tags/ matches it; a ref is deleted only where a glob names it
// exactly (no wildcard). Repository names compare without case, as GitHub
// does; refs with case, as git does. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"
#include "host/github/push_commands.h"

namespace ws::github {

struct PushRule {
  std::string repo;                    // "owner/repo", lower case
  std::vector<std::string> ref_globs;  // full ("refs/heads/agent/*"); empty: the defaults
  std::string ToString() const;        // as the user wrote it back: OWNER/REPO[:GLOB]
};

// "OWNER/REPO" or "OWNER/REPO:GLOB" (one glob per flag; several flags for
// one repository add up). kInvalidArgument names what is wrong.
Result<PushRule> ParsePushRule(std::string_view spec);

struct PushVerdict {
  bool allowed = false;
  std::string rule;    // the rule that decided ("owner/repo:refs/heads/agent/*"), or ""
  std::string reason;  // why not (for the guest's git and the audit)
};

PushVerdict CheckRefUpdate(const std::vector<PushRule>& rules, std::string_view repo,
                           const RefUpdate& update);

// The smart-HTTP request a path names: /OWNER/REPO[.git]/info/refs,
// /OWNER/REPO[.git]/git-upload-pack or .../git-receive-pack (query
// ignored). Nothing for any other path.
enum class GitService { kInfoRefs, kUploadPack, kReceivePack };
struct GitRequest {
  std::string repo;  // "owner/repo", lower case, without .git
  GitService service;
};
std::optional<GitRequest> ParseGitPath(std::string_view target);

}  // namespace ws::github
