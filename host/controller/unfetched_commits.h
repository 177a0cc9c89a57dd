// Commits made in a workspace's own git directories (guest-git-dir shares,
// docs/cli.md "Shares") that the host has not fetched. reset, destroy and
// prune refuse to throw them away unless forced: asked of the guest while it
// runs, else as recorded when `workspace stop` last powered it off.
// Everything the guest answers is untrusted: cleaned and bounded here.
#pragma once

#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/guest/guest_agent.h"
#include "host/virt/metadata.h"

namespace ws::controller {

struct Unfetched {
  // Not known: it ran, and stopped without `workspace stop` asking it (it
  // powered itself off, crashed, the host went down) or did not answer.
  bool unknown = false;
  uint64_t count = 0;                // commits in all
  std::vector<std::string> commits;  // "GUEST_PATH SHORT_ID SUBJECT", at most kShownCommits
};

inline constexpr size_t kShownCommits = 5;

// Guest paths of the read-write shares that hold a repository, on a
// workspace with a disk of its own (where the agent gives git a directory
// of its own).
std::vector<std::string> GuestGitPaths(const virt::WorkspaceMeta& meta);

// Asks the running guest (at most about 12 s, whatever the guest does). Ok
// with nothing when there are no such shares.
Result<Unfetched> AskGuest(guest::GuestAgent& agent, const std::vector<std::string>& guest_paths);

// The guest's answer (lines "C GUEST_PATH COUNT" and "L GUEST_PATH ID
// SUBJECT"), cleaned and bounded.
Unfetched ParseAnswer(const std::string& out);

// The record: WORKSPACE_DIR/unfetched, "unknown" from each start of a
// workspace with such shares until stop replaces it with the guest's
// answer. Read gives nothing (known, none) when there is none.
Status Record(const std::string& path, const Unfetched& u);
Unfetched ReadRecord(const std::string& path);

// FAILED_PRECONDITION naming the commits (or saying they are not known)
// and what to type, for `verb` ("reset", "destroy"). Only when u.unknown or
// u.count > 0.
Status RefuseLosing(const std::string& name, const std::string& verb, const Unfetched& u);

}  // namespace ws::controller
