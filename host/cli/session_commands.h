// `exec` (and -d), `ps`, `kill`, `shell`, `cp`, `init`, `trust`, `doctor`.
// Registers its subcommands on construction; owns their option state, which
// CLI11 binds by address, so it must outlive parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "host/cli/cli_support.h"
#include "host/cli/cp_command.h"
#include "host/cli/exec_command.h"

namespace ws::cli {

class SessionCommands {
 public:
  SessionCommands(CLI::App& app, Context& c);
  SessionCommands(const SessionCommands&) = delete;
  SessionCommands& operator=(const SessionCommands&) = delete;

 private:
  struct EnvFlags {
    std::vector<std::string> env, files;
  };
  // -e/--env and --env-file on `cmd`.
  static void AddEnvOptions(CLI::App* cmd, EnvFlags* flags);
  // Resolves them into o->env; on a bad entry prints, sets c.code, false.
  bool TakeEnv(const EnvFlags& flags, ExecOptions* o);

  Context& c;
  EnvFlags exec_env, shell_env;
  ExecOptions exec;
  bool exec_detach = false;
  bool exec_checkpoint = false;
  std::string ps_name;
  bool ps_json = false;
  std::vector<std::string> kill_args;
  CLI::App* exec_cmd = nullptr;
  ExecOptions shell;
  CLI::App* shell_cmd = nullptr;
  CpOptions cp;
  CLI::App* cp_cmd = nullptr;
  CLI::App* init_cmd = nullptr;
  CLI::App* doctor_cmd = nullptr;
  CLI::App* trust_cmd = nullptr;
  std::string trust_dir;
  bool trust_list = false, trust_remove = false, trust_json = false;
  bool doctor_json = false;
  std::string doctor_name;
};

}  // namespace ws::cli
