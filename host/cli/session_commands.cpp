#include "host/cli/session_commands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "host/cli/default_allow.h"
#include "host/cli/doctor.h"
#include "host/cli/exit_codes.h"
#include "host/cli/project_file.h"
#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/unique_fd.h"
#include "host/shares/share_spec.h"

namespace ws::cli {

SessionCommands::SessionCommands(CLI::App& app, Context& context) : c(context) {
  // exec
  exec_cmd = app.add_subcommand("exec", "Run a command in a workspace: exec NAME -- CMD [ARG...]");
  exec_cmd->add_flag("-i,--interactive", exec.interactive, "Forward stdin to the command");
  exec_cmd->add_flag("-t,--tty", exec.tty, "Run on a pseudo-terminal (raw mode here, window size follows)");
  exec_cmd->add_option("-u,--user", exec.user, "Guest user name or uid (default: user, else root)");
  exec_cmd->add_option("-e,--env", exec.env, "Set an environment variable (KEY=VALUE), repeatable")
      ->allow_extra_args(false);
  exec_cmd->add_option("-w,--cwd", exec.cwd, "Working directory in the guest");
  exec_cmd->add_option("--timeout", exec.timeout_seconds, "Kill the command after SEC seconds (exit 124)")
      ->type_name("SEC");
  exec_cmd->add_flag("--pipe-stdout", exec.pipe_stdout,
                     "Give the command a pipe as stdout instead of the bulk output port (slower for large "
                     "output; for commands that open /dev/stdout again)");
  exec_cmd->add_option("name", exec.workspace, "Workspace name")->required();
  exec_cmd->add_option("command", exec.argv, "Command and arguments, after --")->required();
  exec_cmd->callback([&] {
    for (const auto& kv : exec.env) {
      if (kv.find('=') == std::string::npos || kv[0] == '=') {
        return void(c.code = Fail("--env wants KEY=VALUE, got '" + kv + "'", kExecFailure));
      }
    }
    Stub* stub = c.Connect(true);
    if (!stub) return;
    c.code = RunExec(stub, exec);
  });

  // shell
  shell_cmd = app.add_subcommand("shell", "Open an interactive login shell in a workspace");
  shell_cmd->add_option("-u,--user", shell.user, "Guest user name or uid (default: user, else root)");
  shell_cmd->add_option("-w,--cwd", shell.cwd, "Working directory in the guest");
  shell_cmd->add_option("name", shell.workspace, "Workspace name")->required();
  shell_cmd->callback([&] {
    shell.interactive = shell.tty = shell.login_shell = true;
    shell.argv = {"shell"};
    Stub* stub = c.Connect(true);
    if (!stub) return;
    c.code = RunExec(stub, shell);
  });

  // cp
  cp_cmd = app.add_subcommand("cp", "Copy files and folders: cp SRC DST, with NAME:/path on one side");
  cp_cmd->add_flag("-L,--dereference", cp.follow_symlinks, "Follow host symlinks when copying in");
  cp_cmd->add_option("src", cp.src, "Source: a host path or NAME:/path")->required();
  cp_cmd->add_option("dst", cp.dst, "Destination: a host path or NAME:/path")->required();
  cp_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    c.code = RunCp(stub, cp);
  });

  // init
  init_cmd = app.add_subcommand("init", "Write a commented .workspace.toml project file here");
  init_cmd->callback([&] {
    const auto cwd = std::filesystem::current_path();
    const std::string path = (cwd / kProjectFileName).string();
    if (std::filesystem::exists(path)) {
      return void(c.code = Fail(path + " already exists; edit it, or remove it first", kFailure));
    }
    std::ofstream out(path);
    out << ProjectFileTemplate(NameFromFolder(cwd.filename().string()));
    if (!out) return void(c.code = Fail("cannot write " + path, kFailure));
    std::printf("%s\n", path.c_str());
  });

  // doctor
  doctor_cmd = app.add_subcommand("doctor", "Check this host and say what to fix");
  doctor_cmd->callback([&] { c.code = RunDoctor(c.global); });
}

}  // namespace ws::cli
