// `allow`, `port`, `audit`: a workspace's network; `cache`: the registry
// endpoints' cache.
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

class NetCommands {
 public:
  NetCommands(CLI::App& app, Context& c);
  NetCommands(const NetCommands&) = delete;
  NetCommands& operator=(const NetCommands&) = delete;

 private:
  Context& c;
  std::string allow_name;
  std::vector<std::string> allow_args, allow_remove;
  bool allow_list = false, allow_json = false, allow_writes = false;
  std::vector<std::string> allow_push, allow_api_write;
  CLI::App* allow_cmd = nullptr;
  std::string port_name;
  std::vector<std::string> port_args;
  bool port_json = false;
  std::vector<uint32_t> port_remove;
  bool port_list = false;
  CLI::App* port_cmd = nullptr;
  std::string audit_name;
  bool audit_json = false, audit_follow = false, audit_denied = false;
  CLI::App* audit_cmd = nullptr;
  bool cache_json = false;
};

}  // namespace ws::cli
