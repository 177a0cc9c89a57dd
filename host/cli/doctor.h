// `workspace doctor`: checks this host for what workspace needs and says
// what to fix. Exit 0 when nothing is wrong, 1 otherwise.
#pragma once

#include <string>

#include "host/cli/client.h"

namespace ws::cli {

// json: one JSON array of {status: ok/problem/advice, check, fix} instead of lines.
// workspace: also check that this running workspace's tools (curl, python,
// git, node) trust its CA for the hosts whose requests the host reads.
int RunDoctor(const GlobalOptions& g, bool json, const std::string& workspace = "");

}  // namespace ws::cli
