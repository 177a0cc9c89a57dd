// Spawn: starts one command in its own session with pipes for its standard
// streams. Uses posix_spawn (vfork-style clone), so the cost does not grow
// with the agent's memory or thread count.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/common/unique_fd.h"

namespace ws::agent {

struct SpawnSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // the complete environment, KEY=VALUE
  std::string cwd;               // must be an existing directory
  bool pipe_stdin = false;       // false: stdin is /dev/null
};

struct Child {
  pid_t pid = -1;
  unique_fd stdin_fd;   // write end; invalid unless pipe_stdin
  unique_fd stdout_fd;  // read end, O_NONBLOCK
  unique_fd stderr_fd;  // read end, O_NONBLOCK
};

// kNotFound when the command does not exist (a shell's 127); kPermissionDenied
// or kInvalidArgument when it exists but cannot run (126).
Result<Child> Spawn(const SpawnSpec& spec);

// The exit code a shell would give for a Spawn failure: 127 or 126.
int ExitCodeForSpawnError(const Status& status);

// Looks `name` up like execvp in the PATH of `env` (a default PATH if unset).
Result<std::string> ResolveCommand(const std::string& name, const std::vector<std::string>& env);

}  // namespace ws::agent
