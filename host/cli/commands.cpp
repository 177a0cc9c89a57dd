#include "host/cli/commands.h"

#include <CLI/CLI.hpp>
#include <string>

#include "host/cli/changes_command.h"
#include "host/cli/cli_support.h"
#include "host/cli/create_command.h"
#include "host/cli/exit_codes.h"
#include "host/cli/git_command.h"
#include "host/cli/image_commands.h"
#include "host/cli/net_commands.h"
#include "host/cli/session_commands.h"
#include "host/cli/workspace_commands.h"
#include "host/store/layout.h"

namespace ws::cli {
namespace {

// Commands whose exit code is the remote command's: their own failures are 125.
bool IsExecLike(const std::string& cmd) { return cmd == "exec" || cmd == "shell"; }

// The subcommand named on the command line (even when parsing failed).
std::string CommandOf(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--state-dir" || a == "--connect" || a == "--accel") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] != '-') return a;
  }
  return "";
}

}  // namespace

int Run(int argc, char** argv) {
  CLI::App app{"workspace: a throwaway VM per project, with only the folders you share and "
               "only the network you allow.",
               "workspace"};
  app.set_version_flag("--version", std::string("workspace ") + WS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.footer("Reference: docs/cli.md. Exit codes: 0 ok, 1 failure, 2 usage error; exec exits "
             "with the command's code, 125 when workspace itself fails.");

  Context c;
  c.global.state_dir = store::kDefaultStateDir;
  app.add_option("--state-dir", c.global.state_dir, "State directory (default /var/lib/workspace)")
      ->envname("WORKSPACE_STATE_DIR");
  app.add_option("--connect", c.global.connect_uri,
                 "libvirt URI for a daemon started now (default: embedded, no libvirtd)")
      ->envname("WORKSPACE_CONNECT");
  app.add_option("--accel", c.global.accel, "auto, kvm or tcg, for a daemon started now")
      ->envname("WORKSPACE_ACCEL");

  CreateCommand create(app, c);
  WorkspaceCommands workspaces(app, c);
  SessionCommands sessions(app, c);
  NetCommands net(app, c);
  ImageCommands images(app, c);
  GitCommand git(app, c);
  ChangesCommand changes(app, c);

  // daemon
  auto* daemon_cmd = app.add_subcommand("daemon", "Run the daemon (as root) in the foreground");
  daemon_cmd->callback([&] { c.code = ExecDaemon(c.global); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      app.exit(e);
      return kOk;
    }
    std::string cmd = CommandOf(argc, argv);
    std::string hint = cmd.empty() ? "workspace --help" : "workspace " + cmd + " --help";
    if (cmd == "exec") hint = "usage: workspace exec [OPTIONS] NAME -- COMMAND [ARG...]";
    return Fail(std::string(e.what()) + " (see " + hint + ")", IsExecLike(cmd) ? kExecFailure : kUsage);
  }
  return c.code;
}

}  // namespace ws::cli
