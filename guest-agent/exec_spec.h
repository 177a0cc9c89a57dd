// PrepareSpawn: what an ExecStart asks for, as a SpawnSpec: the user, the
// environment (the agent's defaults, the egress proxy, the caller's
// additions), the working directory and the resolved program.
#pragma once

#include <string>

#include "guest-agent/spawn.h"
#include "workspace/v1/agent.pb.h"

namespace ws::agent {

// False, with a message and the exit code to report (126 cannot run, 127
// not found), when the command cannot run.
bool PrepareSpawn(const workspace::v1::ExecStart& start, SpawnSpec* spec, std::string* error,
                  int* code);

}  // namespace ws::agent
