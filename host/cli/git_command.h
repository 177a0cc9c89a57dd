// `workspace git fetch NAME [GUEST_PATH]`: brings the commits made inside a
// workspace to the host repository as refs/workspace/NAME/*. The guest
// writes a git bundle (data: nothing of the guest's runs on the host); the
// CLI, as the calling user, verifies it and fetches from it.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "host/cli/cli_support.h"

namespace ws::cli {

class GitCommand {
 public:
  GitCommand(CLI::App& app, Context& c);
  GitCommand(const GitCommand&) = delete;
  GitCommand& operator=(const GitCommand&) = delete;

 private:
  Context& c;
  std::string name, guest_path;
  unsigned max_mib = 2048;
  bool checkout = false, json = false;
};

}  // namespace ws::cli
