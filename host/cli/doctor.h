// `workspace doctor`: checks this host for what workspace needs and says
// what to fix. Exit 0 when nothing is wrong, 1 otherwise.
#pragma once

#include "host/cli/client.h"

namespace ws::cli {

int RunDoctor(const GlobalOptions& g);

}  // namespace ws::cli
