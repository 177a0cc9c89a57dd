// `workspace changes NAME`: the files in a workspace's read-write shares
// that host tools run, which the guest created or changed since it last
// started; and the one-line summary stop, destroy and reset print of them.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "host/cli/cli_support.h"

namespace ws::cli {

class ChangesCommand {
 public:
  ChangesCommand(CLI::App& app, Context& c);
  ChangesCommand(const ChangesCommand&) = delete;
  ChangesCommand& operator=(const ChangesCommand&) = delete;

 private:
  Context& c;
  std::string name;
  bool json = false;
};

// The changes of `name` now.
Result<v1::ChangesResponse> FetchChanges(Stub* stub, const std::string& name);

// One line on stderr naming what the guest changed that the host runs, with
// the command to see more; nothing when it changed nothing or the changes
// could not be had (the command the summary belongs to goes on).
void PrintChangesSummary(const std::string& name, const Result<v1::ChangesResponse>& changes);

}  // namespace ws::cli
