// `workspace exec` and `workspace shell`: stream a command's stdin, stdout
// and stderr through the daemon; forward signals (SIGINT, SIGTERM, SIGHUP,
// SIGQUIT) and, with a tty, window-size changes; return the command's exit
// code (128+N for signal N, 124 on timeout, 125 when workspace itself failed).
#pragma once

#include <string>
#include <vector>

#include "workspace/v1/controller.grpc.pb.h"

namespace ws::cli {

struct ExecOptions {
  std::string workspace;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  std::string user;
  uint32_t timeout_seconds = 0;
  bool interactive = false;  // -i: forward our stdin
  bool tty = false;          // -t: a pty in the guest, raw mode here
  bool login_shell = false;  // run the user's login shell instead of argv
  bool pipe_stdout = false;  // --pipe-stdout: never the bulk output port
  int stdout_fd = 1;         // where the command's stdout goes
  uint64_t max_stdout =
      0;  // 0: no bound; past it the command is stopped and RunExec returns kOutputTooLarge
};

// RunExec's result when the command's stdout passed ExecOptions::max_stdout.
inline constexpr int kOutputTooLarge = -1;

int RunExec(workspace::v1::Controller::Stub* stub, const ExecOptions& opts);

}  // namespace ws::cli
