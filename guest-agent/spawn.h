// Spawn: starts one command in a new session, as a given user, optionally in
// a cgroup and on a fresh pseudo-terminal. Uses vfork: the cost does not grow
// with the agent's memory or thread count, and the child joins its cgroup
// before exec, so nothing it starts can escape the group.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/common/unique_fd.h"

namespace ws::agent {

struct WindowSize {
  unsigned rows = 24, cols = 80;
};

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] as the program sees it
  std::string path;               // resolved executable (ResolveCommand)
  std::vector<std::string> env;   // the complete environment, KEY=VALUE
  std::string cwd;                // must be an existing directory
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  bool pipe_stdin = false;  // false: stdin is /dev/null (ignored with tty)
  bool tty = false;         // stdin/stdout/stderr on a new pty
  WindowSize window;
  int cgroup_procs_fd = -1;  // the child writes itself here before exec
  int stdout_fd = -1;        // the command's stdout instead of a pipe (no tty)
};

struct Child {
  pid_t pid = -1;
  unique_fd stdin_fd;   // write end (pipe), or the pty master for tty
  unique_fd stdout_fd;  // read end, O_NONBLOCK (pty master for tty); none with spec.stdout_fd
  unique_fd stderr_fd;  // read end, O_NONBLOCK; invalid for tty
};

// kNotFound when the command does not exist (a shell's 127); another code
// when it exists but cannot run (126).
Result<Child> Spawn(const SpawnSpec& spec);

// The exit code a shell would give for a Spawn failure: 127 or 126.
int ExitCodeForSpawnError(const Status& status);

// Looks `name` up like execvp in the PATH of `env` (a default PATH if unset).
Result<std::string> ResolveCommand(const std::string& name, const std::vector<std::string>& env);

}  // namespace ws::agent
