#include "host/cli/session_commands.h"

#include <google/protobuf/struct.pb.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "host/cli/default_allow.h"
#include "host/cli/doctor.h"
#include "host/cli/env_options.h"
#include "host/cli/exit_codes.h"
#include "host/cli/project_file.h"
#include "host/cli/project_trust.h"
#include "host/cli/tripwire_commands.h"
#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/printable.h"
#include "host/common/unique_fd.h"
#include "host/net/audit_log.h"
#include "host/shares/share_spec.h"

namespace ws::cli {

void SessionCommands::AddEnvOptions(CLI::App* cmd, EnvFlags* flags) {
  cmd->add_option(
         "-e,--env", flags->env,
         "Set a variable in the command's environment: KEY=VALUE, or KEY for this shell's value "
         "(left out when unset); repeatable. The value enters the VM")
      ->allow_extra_args(false);
  cmd->add_option("--env-file", flags->files, "Read KEY=VALUE lines from FILE; repeatable, -e wins")
      ->type_name("FILE")
      ->allow_extra_args(false);
}

bool SessionCommands::TakeEnv(const EnvFlags& flags, ExecOptions* o) {
  auto env =
      ResolveEnv(flags.files, flags.env, [](const std::string& k) { return getenv(k.c_str()); });
  if (!env.ok()) {
    c.code = Fail(env.status().message(), kExecFailure);
    return false;
  }
  for (const auto& k : env->unset) {
    std::fprintf(stderr, "workspace: %s is not set here; left out of the command's environment\n",
                 Printable(k).c_str());
  }
  o->env = std::move(env->env);
  return true;
}

SessionCommands::SessionCommands(CLI::App& app, Context& context) : c(context) {
  // exec
  exec_cmd =
      app.add_subcommand("exec", "Run a command in a workspace: exec [NAME] -- CMD [ARG...]");
  exec_cmd->add_flag("-i,--interactive", exec.interactive, "Forward stdin to the command");
  exec_cmd->add_flag("-t,--tty", exec.tty,
                     "Run on a pseudo-terminal (raw mode here, window size follows)");
  exec_cmd->add_option("-u,--user", exec.user, "Guest user name or uid (default: user, else root)");
  AddEnvOptions(exec_cmd, &exec_env);
  exec_cmd->add_option("-w,--cwd", exec.cwd,
                       "Working directory in the guest (default: /workspace when it exists, else "
                       "the user's home, else /)");
  exec_cmd
      ->add_option("--timeout", exec.timeout_seconds,
                   "Kill the command after SEC seconds (exit 124)")
      ->type_name("SEC");
  exec_cmd->add_flag(
      "--pipe-stdout", exec.pipe_stdout,
      "Give the command a pipe as stdout instead of the bulk output port (slower for large "
      "output; for commands that open /dev/stdout again)");
  exec_cmd->add_flag(
      "-d,--detach", exec_detach,
      "Run in the background, kept after this command returns (until it exits, workspace kill, "
      "or the workspace stops); prints its ID (see workspace ps, logs NAME ID)");
  exec_cmd->add_flag("--checkpoint", exec_checkpoint,
                     "Checkpoint the workspace's disk first, and after the command print what it "
                     "left (files that run or are setuid, denied egress, decoys touched) and how "
                     "to roll it back");
  exec_cmd->add_option("name", exec.workspace,
                       "Workspace name (default: the current folder's workspace)");
  exec_cmd->add_option("command", exec.argv, "Command and arguments, after --")->required();
  exec_cmd->callback([&] {
    if (!TakeEnv(exec_env, &exec)) return;
    if (exec_detach && (exec.interactive || exec.tty || exec.pipe_stdout)) {
      return void(
          c.code = Fail("-d runs without a terminal or stdin: it takes no -i, -t or --pipe-stdout",
                        kExecFailure));
    }
    Stub* stub = c.Connect(true);
    if (!stub || !c.Resolve(stub, &exec.workspace, true)) return;
    if (exec_detach && exec_checkpoint) {
      return void(c.code =
                      Fail("--checkpoint waits for the command: it takes no -d", kExecFailure));
    }
    if (exec_checkpoint) {
      auto label = TakeCheckpoint(stub, exec.workspace, false);
      if (!label.ok()) return void(c.code = Fail(label.status(), true));
      const std::string started_at = net::NowRfc3339Millis();
      c.code = RunExec(stub, exec);
      PrintExecSummary(stub, exec.workspace, label.value(), started_at);
      return;
    }
    if (!exec_detach) return void(c.code = RunExec(stub, exec));
    grpc::ClientContext ctx;
    v1::ExecDetachedRequest req;
    req.set_name(exec.workspace);
    for (const auto& a : exec.argv) req.add_argv(a);
    for (const auto& kv : exec.env) req.add_env(kv);
    req.set_cwd(exec.cwd);
    req.set_user(exec.user);
    v1::ExecDetachedResponse resp;
    Status s = FromGrpc(stub->ExecDetached(Deadline(&ctx, 300), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s, true));
    std::printf("%s\n", resp.id().c_str());
    if (Tty()) {
      std::fprintf(stderr, "Running in '%s' as %s: workspace logs %s %s; workspace kill %s %s\n",
                   exec.workspace.c_str(), resp.id().c_str(), exec.workspace.c_str(),
                   resp.id().c_str(), exec.workspace.c_str(), resp.id().c_str());
    }
  });

  // ps
  auto* ps_cmd = app.add_subcommand(
      "ps", "List a workspace's detached commands (exec -d): ID, state, uptime, command");
  ps_cmd->add_option("name", ps_name, kNameHelp);
  ps_cmd->add_flag("--json", ps_json, "JSON output (fields in docs/cli.md)");
  ps_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &ps_name)) return;
    grpc::ClientContext ctx;
    v1::ProcessesRequest req;
    req.set_name(ps_name);
    v1::ProcessesResponse resp;
    Status s = FromGrpc(stub->Processes(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (ps_json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    std::printf("%-12s  %-10s %8s  %s\n", "ID", "STATE", "UPTIME", "COMMAND");
    for (const auto& p : resp.processes()) {
      std::string cmd;
      for (const auto& a : p.argv()) cmd += (cmd.empty() ? "" : " ") + a;
      std::string state =
          p.state() == "exited" ? "exited(" + std::to_string(p.exit_code()) + ")" : p.state();
      std::string up = p.state() == "running" ? std::to_string(p.uptime_seconds()) + "s" : "-";
      std::printf("%-12s  %-10s %8s  %s\n", p.id().c_str(), state.c_str(), up.c_str(),
                  Printable(cmd).c_str());
    }
  });

  // kill
  auto* kill_cmd = app.add_subcommand("kill",
                                      "End a detached command (exec -d) and everything it started: "
                                      "kill [NAME] ID");
  kill_cmd
      ->add_option("args", kill_args, "[NAME] ID (NAME: default the current folder's workspace)")
      ->required();
  kill_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    std::string name;
    if (kill_args.size() == 2) {
      name = kill_args[0];
      kill_args.erase(kill_args.begin());
    } else if (kill_args.size() != 1) {
      return void(c.code = Fail("give [NAME] ID", kUsage));
    }
    if (!c.Resolve(stub, &name)) return;
    grpc::ClientContext ctx;
    v1::KillRequest req;
    req.set_name(name);
    req.set_id(kill_args[0]);
    v1::KillResponse resp;
    Status s = FromGrpc(stub->Kill(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
  });

  // shell
  shell_cmd = app.add_subcommand("shell", "Open an interactive login shell in a workspace");
  shell_cmd->add_option("-u,--user", shell.user,
                        "Guest user name or uid (default: user, else root)");
  shell_cmd->add_option("-w,--cwd", shell.cwd,
                        "Working directory in the guest (default: /workspace when it exists, else "
                        "the user's home, else /)");
  AddEnvOptions(shell_cmd, &shell_env);
  shell_cmd->add_option("name", shell.workspace,
                        "Workspace name (default: the current folder's workspace)");
  shell_cmd->callback([&] {
    shell.interactive = shell.tty = shell.login_shell = true;
    shell.argv = {"shell"};
    if (!TakeEnv(shell_env, &shell)) return;
    Stub* stub = c.Connect(true);
    if (!stub || !c.Resolve(stub, &shell.workspace, true)) return;
    c.code = RunExec(stub, shell);
  });

  // cp
  cp_cmd =
      app.add_subcommand("cp", "Copy files and folders: cp SRC DST, with NAME:/path on one side");
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
    const std::string text = ProjectFileTemplate(NameFromFolder(cwd.filename().string()));
    std::ofstream out(path);
    out << text;
    out.close();
    if (!out) return void(c.code = Fail("cannot write " + path, kFailure));
    // Written by the user's own command: trusted as written.
    if (Status s = RecordTrust({path, text}); !s.ok()) return void(c.code = Fail(s));
    std::printf("%s\n", path.c_str());
  });

  // trust
  trust_cmd =
      app.add_subcommand("trust",
                         "Trust a folder's .workspace.toml as it is now (create honours only "
                         "trusted project files)");
  trust_cmd->add_option("dir", trust_dir, "The project folder (default: the current one)");
  trust_cmd->add_flag("--list", trust_list,
                      "List the project files you trusted and whether they changed");
  trust_cmd->add_flag("--remove", trust_remove, "Stop trusting the folder's project file");
  trust_cmd->add_flag("--json", trust_json, "With --list: JSON output (fields in docs/cli.md)");
  trust_cmd->callback([&] {
    if (trust_list) {
      if (trust_remove || !trust_dir.empty())
        return void(c.code = Fail("--list takes no folder and no --remove", kUsage));
      const auto all = ListTrusted();
      if (trust_json) {
        google::protobuf::ListValue list;
        for (const auto& t : all) {
          auto* o = list.add_values()->mutable_struct_value()->mutable_fields();
          (*o)["path"].set_string_value(t.path);
          (*o)["state"].set_string_value(t.state);
        }
        std::printf("%s\n", ToJson(list).c_str());
        return;
      }
      for (const auto& t : all)
        std::printf("%-8s %s\n", t.state.c_str(), Printable(t.path).c_str());
      return;
    }
    if (trust_json) return void(c.code = Fail("--json goes with --list", kUsage));
    std::error_code ec;
    const auto dir = std::filesystem::canonical(trust_dir.empty() ? "." : trust_dir, ec);
    if (ec)
      return void(c.code = Fail("no folder " + Printable(trust_dir) + ": " + ec.message(), kUsage));
    const std::string path = (dir / kProjectFileName).string();
    if (trust_remove) {
      if (Status s = ForgetTrust(path); !s.ok()) return void(c.code = Fail(s));
      if (Tty()) std::fprintf(stderr, "No longer trusted: %s\n", Printable(path).c_str());
      return;
    }
    // Read, parsed (a broken file says what is wrong, and is not trusted)
    // and trusted as create --trust does.
    auto f = LoadTrustedProjectFile(dir.string(), /*trust_now=*/true, /*ask=*/false);
    if (!f.ok()) return void(c.code = Fail(f.status()));
    if (!f->has_value())
      return void(c.code = Fail("no " + Printable(path) + " to trust", kFailure));
    if (Tty())
      std::fprintf(stderr, "Trusted: %s (create there uses it until it changes)\n",
                   Printable(path).c_str());
    std::printf("%s\n", path.c_str());
  });

  // doctor
  doctor_cmd = app.add_subcommand(
      "doctor", "Check this host and say what to fix; with NAME, also that workspace's tools");
  doctor_cmd->add_option("name", doctor_name,
                         "A running workspace whose curl, python, git and node must trust its CA");
  doctor_cmd->add_flag("--json", doctor_json, "JSON output (fields in docs/cli.md)");
  doctor_cmd->callback([&] { c.code = RunDoctor(c.global, doctor_json, doctor_name); });
}

}  // namespace ws::cli
