// `secret add|list|rm|bind|unbind`: secrets the host injects into requests
// (docs/cli.md#secrets). The CLI reads a value as the calling user (from a
// variable, a file or a command) and hands it to the daemon; nothing prints
// one. Registers its subcommands on construction; owns their option state.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "host/cli/cli_support.h"

namespace ws::cli {

class SecretCommands {
 public:
  SecretCommands(CLI::App& app, Context& c);
  SecretCommands(const SecretCommands&) = delete;
  SecretCommands& operator=(const SecretCommands&) = delete;

 private:
  void Add();
  void Bind(bool bind);
  Context& c;
  std::string name, preset, host, header, format, env, from_env, from_file, from_command;
  bool json = false;
  std::vector<std::string> names, bind_args;
};

}  // namespace ws::cli
