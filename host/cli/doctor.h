// `workspace doctor`: checks this host for what workspace needs and says
// what to fix. Exit 0 when nothing is wrong, 1 otherwise.
#pragma once

#include "host/cli/client.h"

namespace ws::cli {

// json: one JSON array of {status: ok/problem/advice, check, fix} instead of lines.
int RunDoctor(const GlobalOptions& g, bool json);

}  // namespace ws::cli
