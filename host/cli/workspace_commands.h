// `list`, `inspect`, `start`, `stop`, `destroy`, `prune`, `reset`, `logs`.
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

class WorkspaceCommands {
 public:
  WorkspaceCommands(CLI::App& app, Context& c);
  WorkspaceCommands(const WorkspaceCommands&) = delete;
  WorkspaceCommands& operator=(const WorkspaceCommands&) = delete;

 private:
  // Fills an empty list with the current folder's workspace; false (c.code set) when there is none.
  // obvious_for: as ResolveName (destroy).
  bool ResolveNames(Stub* stub, std::vector<std::string>* names,
                    const std::string& obvious_for = "");
  // Keeps the first failure's exit code.
  void Note(int rc);

  Context& c;
  bool list_json = false, list_quiet = false;
  CLI::App* list_cmd = nullptr;
  std::string inspect_name;
  bool inspect_json = false;
  CLI::App* inspect_cmd = nullptr;
  std::vector<std::string> start_names, stop_names, destroy_names;
  bool destroy_force = false, prune_force = false;
  CLI::App* start_cmd = nullptr;
  CLI::App* stop_cmd = nullptr;
  bool destroy_all = false;
  CLI::App* destroy_cmd = nullptr;
  CLI::App* prune_cmd = nullptr;
  std::string reset_name;
  bool reset_force = false, reset_json = false, reset_cold = false, reset_verbose = false;
  CLI::App* reset_cmd = nullptr;
  std::string logs_name;
  std::vector<std::string> logs_args;
  bool logs_follow = false;
  CLI::App* logs_cmd = nullptr;
  std::function<void(Stub*, const std::vector<std::string>&, bool, bool)> destroy_each;
  std::function<Status(Stub*, bool, std::vector<std::string>*)> names_of;
};

}  // namespace ws::cli
