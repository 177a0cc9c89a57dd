// Exit codes of the CLI (docs/cli.md). `exec`/`shell` pass the command's own
// code through, so their own failures use 125 (as docker and env do); every
// other command uses 0 / 1 / 2.
#pragma once

#include "host/common/status.h"

namespace ws::cli {

inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;
inline constexpr int kUsage = 2;
inline constexpr int kExecTimeout = 124;
inline constexpr int kExecFailure = 125;
inline constexpr int kSignalBase = 128;

// 1 for a failed command, 2 when the request itself was malformed.
int ExitCodeFor(const Status& s);

}  // namespace ws::cli
