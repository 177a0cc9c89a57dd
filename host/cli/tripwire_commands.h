// `workspace alerts NAME`: what the workspace's tripwires saw (a decoy
// credential read or sent, docs/cli.md#alerts); and the line other commands
// print when a workspace has alerts not yet seen.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "host/cli/cli_support.h"

namespace ws::cli {

// alerts, checkpoint, rollback, diff.
class TripwireCommands {
 public:
  TripwireCommands(CLI::App& app, Context& c);
  TripwireCommands(const TripwireCommands&) = delete;
  TripwireCommands& operator=(const TripwireCommands&) = delete;

 private:
  Context& c;
  std::string name, label, remove;
  bool json = false;
  bool all = false;
  bool list = false;
  std::string rb_name, rb_label, diff_name, diff_label;
  bool rb_json = false, diff_json = false;
};

// Takes a checkpoint before `exec --checkpoint`; its label, or an error.
Result<std::string> TakeCheckpoint(Stub* stub, const std::string& name, bool quiet);
// After it: what the command left (files outside the shares' guest paths
// that run or are setuid, new executables), what was denied, the decoys
// it touched, and the command to roll back. On stderr, one screen.
void PrintExecSummary(Stub* stub, const std::string& name, const std::string& label,
                      const std::string& started_at);

// One alert as a line of text.
std::string AlertText(const v1::Alert& a);

}  // namespace ws::cli
