// Decoy reads (issue #23): the agent watches the decoy files it planted in
// the user's home with fanotify and reports each open to the host (on the
// egress watch, method FILE-READ: the path, the process, its exec). Best
// effort: the guest is root and can remove the watch or the files; the
// host's tripwires on what leaves do not depend on it.
#pragma once

#include <string>
#include <vector>

namespace ws::agent {

// Watches these absolute paths (adds to what is watched); starts the
// reader thread once. Paths that cannot be watched are skipped.
void WatchDecoyReads(const std::vector<std::string>& paths);

}  // namespace ws::agent
