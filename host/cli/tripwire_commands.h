// `workspace alerts NAME`: what the workspace's tripwires saw (a decoy
// credential read or sent, docs/cli.md#alerts); and the line other commands
// print when a workspace has alerts not yet seen.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "host/cli/cli_support.h"

namespace ws::cli {

class TripwireCommands {
 public:
  TripwireCommands(CLI::App& app, Context& c);
  TripwireCommands(const TripwireCommands&) = delete;
  TripwireCommands& operator=(const TripwireCommands&) = delete;

 private:
  Context& c;
  std::string name;
  bool json = false;
  bool all = false;
};

// One alert as a line of text.
std::string AlertText(const v1::Alert& a);

}  // namespace ws::cli
