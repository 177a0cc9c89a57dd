// `workspace completion bash|zsh|fish`: a completion script made from the
// command tree itself (subcommands, their options, workspace names from
// `workspace list -q`), so it never lags behind the CLI.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace ws::cli {

// kInvalidArgument-like: empty when `shell` is not bash, zsh or fish.
std::string CompletionScript(const CLI::App& app, const std::string& shell);

}  // namespace ws::cli
