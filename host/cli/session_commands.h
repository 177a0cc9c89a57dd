// `exec`, `shell`, `cp`, `init`, `trust`, `doctor`.
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
  Context& c;
  ExecOptions exec;
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
};

}  // namespace ws::cli
