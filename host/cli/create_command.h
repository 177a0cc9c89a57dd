// `create`: the workspace, its shares, network and ports, from flags and the project file.
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

class CreateCommand {
 public:
  CreateCommand(CLI::App& app, Context& c);
  CreateCommand(const CreateCommand&) = delete;
  CreateCommand& operator=(const CreateCommand&) = delete;

 private:
  Context& c;
  v1::CreateRequest create;
  std::string create_name;
  CLI::App* create_cmd = nullptr;
  std::vector<std::string> share_specs, show_files, writable_paths;
  bool no_share = false, share_dangerous = false;
  std::string net_mode = "allowlist";
  std::vector<std::string> allow_specs;
  bool no_default_allow = false;
  bool no_decoys = false;
  bool cold_boot = false, verbose = false;
  std::vector<std::string> publish_specs;
  bool trust_project = false, no_project_file = false;
};

}  // namespace ws::cli
