#include "host/cli/commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "host/cli/changes_command.h"
#include "host/cli/cli_support.h"
#include "host/cli/completion.h"
#include "host/cli/create_command.h"
#include "host/cli/exit_codes.h"
#include "host/cli/git_command.h"
#include "host/cli/image_commands.h"
#include "host/cli/net_commands.h"
#include "host/cli/secret_commands.h"
#include "host/cli/session_commands.h"
#include "host/cli/tripwire_commands.h"
#include "host/cli/workspace_commands.h"
#include "host/common/printable.h"
#include "host/store/layout.h"

namespace ws::cli {
namespace {

// The command `typed` most likely meant ("" when none is near).
std::string SuggestCommand(const CLI::App& app, const std::string& typed);

bool Known(const CLI::App& app, const std::string& name) {
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(name)) return true;
  }
  return false;
}

// What a parse error means, and what to type instead.
std::string UsageMessage(const CLI::App& app, const std::vector<std::string>& args, int at,
                         const std::string& what) {
  if (at == 0) return "give a command (see workspace help)";
  const std::string& cmd = args[at];
  if (!Known(app, cmd)) {
    std::string near = SuggestCommand(app, cmd);
    return "unknown command '" + Printable(cmd) + "'" +
           (near.empty() ? "" : "; did you mean " + near + "?") + " (see workspace help)";
  }
  const bool has_dashdash = std::find(args.begin() + at, args.end(), "--") != args.end();
  if (std::find(args.begin() + at, args.end(), "--format") != args.end()) {
    return what + "; for JSON output use --json (see workspace help " + cmd + ")";
  }
  if (cmd == "exec" && !has_dashdash) {
    return what +
           "; the command goes after --: workspace exec [OPTIONS] [NAME] -- COMMAND [ARG...]";
  }
  if (cmd == "shell" && what.find("not expected") != std::string::npos) {
    return what + "; to run a command, use: workspace exec [NAME] -- COMMAND [ARG...]";
  }
  if (at + 1 < static_cast<int>(args.size())) {
    // A group (image, git, cache) given an unknown subcommand.
    const CLI::App* group = nullptr;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(cmd)) group = sub;
    }
    const std::string& sub = args[at + 1];
    if (group && !group->get_subcommands([](const CLI::App*) { return true; }).empty() &&
        !sub.empty() && sub[0] != '-' && !Known(*group, sub)) {
      std::string near = SuggestCommand(*group, sub);
      return "unknown command '" + cmd + " " + Printable(sub) + "'" +
             (near.empty() ? "" : "; did you mean " + cmd + " " + near + "?") +
             " (see workspace help " + cmd + ")";
    }
  }
  return what + " (see workspace help " + cmd + ")";
}

// Commands whose exit code is the remote command's: their own failures are 125.
bool IsExecLike(const std::string& cmd) { return cmd == "exec" || cmd == "shell"; }

bool IsGlobalWithValue(const std::string& a) {
  return a == "--state-dir" || a == "--connect" || a == "--libvirt-uri" || a == "--accel";
}

// Where the subcommand is on the command line (even when parsing fails); 0: none.
int CommandIndex(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (IsGlobalWithValue(args[i])) {
      ++i;
      continue;
    }
    if (!args[i].empty() && args[i][0] != '-') return static_cast<int>(i);
  }
  return 0;
}

// `exec [OPTIONS] -- CMD` without NAME: CLI11 would hand CMD to NAME, so an
// empty NAME (the current folder's workspace) goes in before the `--`.
void MarkMissingExecName(std::vector<std::string>* args) {
  const int at = CommandIndex(*args);
  if (at == 0 || (*args)[at] != "exec") return;
  for (size_t i = at + 1; i < args->size(); ++i) {
    const std::string& a = (*args)[i];
    if (a == "--") {
      args->insert(args->begin() + static_cast<long>(i), "");
      return;
    }
    if (a.empty() || a[0] != '-') return;  // NAME is there
    // Options that take the next word as their value: exec's, globals
    // given after the command, and a cluster of short flags ending in one
    // (-tu root, -ie KEY; -uroot holds its value).
    static const std::set<std::string> kWithValue = {"--user",    "--env",         "--cwd",
                                                     "--timeout", "--env-file",    "--state-dir",
                                                     "--connect", "--libvirt-uri", "--accel"};
    if (kWithValue.count(a)) {
      ++i;
    } else if (a.size() >= 2 && a[1] != '-') {
      // -u, -e, -w take the rest of the cluster, or the next word when none is left.
      const auto takes_value = a.find_first_of("uew", 1);
      if (takes_value == a.size() - 1) ++i;
    }
  }
}

// Edit distance, for "did you mean".
size_t Distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string SuggestCommand(const CLI::App& app, const std::string& typed) {
  // What users of docker, Lima, Multipass and Vagrant type.
  static const std::map<std::string, std::string> kSynonyms = {
      {"run", "create"},     {"up", "start"},       {"down", "stop"},      {"halt", "stop"},
      {"delete", "destroy"}, {"remove", "destroy"}, {"ssh", "shell"},      {"images", "image list"},
      {"rmi", "image rm"},   {"launch", "create"},  {"new", "create"},     {"info", "inspect"},
      {"show", "inspect"},   {"cd", "shell"},       {"attach", "shell"},   {"status", "list"},
      {"rebuild", "reset"},  {"log", "logs"},       {"fetch", "git fetch"}};
  if (auto it = kSynonyms.find(typed); it != kSynonyms.end()) return it->second;
  std::string best;
  size_t best_d = 3;  // at most two edits away
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    std::vector<std::string> names = sub->get_aliases();
    names.push_back(sub->get_name());
    for (const auto& n : names) {
      size_t d = Distance(typed, n);
      if (d < best_d && d < n.size()) {
        best_d = d;
        best = sub->get_name();
      }
    }
  }
  return best;
}

}  // namespace

int Run(int argc, char** argv) {
  CLI::App app{
      "workspace: a throwaway VM per project, with only the folders you share and "
      "only the network you allow.",
      "workspace"};
  app.set_version_flag("--version", std::string("workspace ") + WS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(
      "Reference: docs/cli.md. Exit codes: 0 ok, 1 failure, 2 usage error; exec and "
      "shell exit with the command's code, 125 when workspace itself fails.");

  Context c;
  c.global.state_dir = store::kDefaultStateDir;
  app.add_option("--state-dir", c.global.state_dir, "State directory (default /var/lib/workspace)")
      ->envname("WORKSPACE_STATE_DIR");
  app.add_option("--libvirt-uri,--connect", c.global.connect_uri,
                 "libvirt URI for a daemon this command starts (default: embedded, no libvirtd); "
                 "--connect is the old name")
      ->envname("WORKSPACE_LIBVIRT_URI");
  if (const char* old = getenv("WORKSPACE_CONNECT"); old && !getenv("WORKSPACE_LIBVIRT_URI")) {
    c.global.connect_uri = old;
  }
  app.add_option("--accel", c.global.accel, "auto, kvm or tcg, for a daemon this command starts")
      ->envname("WORKSPACE_ACCEL");

  CreateCommand create(app, c);
  WorkspaceCommands workspaces(app, c);
  SessionCommands sessions(app, c);
  NetCommands net(app, c);
  SecretCommands secrets(app, c);
  ImageCommands images(app, c);
  GitCommand git(app, c);
  ChangesCommand changes(app, c);
  TripwireCommands tripwire(app, c);

  // help
  std::vector<std::string> help_topic;
  auto* help_cmd = app.add_subcommand(
      "help", "Show help for workspace or one command: help [COMMAND [SUBCOMMAND]]");
  help_cmd->add_option("command", help_topic, "The command");
  help_cmd->callback([&] {
    const CLI::App* at = &app;
    std::string path = "workspace";
    for (const auto& word : help_topic) {
      const CLI::App* next = nullptr;
      for (const auto* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
        if (sub->check_name(word)) next = sub;
      }
      if (!next) {
        std::string near = SuggestCommand(*at, word);
        c.code =
            Fail("no command '" + Printable(path + " " + word) + "'" +
                     (near.empty() ? "" : "; did you mean " + near + "?") + " (see workspace help)",
                 kUsage);
        return;
      }
      at = next;
      path += " " + word;
    }
    std::printf("%s", at->help().c_str());
  });

  // completion
  std::string completion_shell;
  auto* completion_cmd =
      app.add_subcommand("completion",
                         "Print a shell completion script: completion bash|zsh|fish "
                         "(e.g. workspace completion bash > "
                         "/etc/bash_completion.d/workspace)");
  completion_cmd->add_option("shell", completion_shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  completion_cmd->callback(
      [&] { std::printf("%s", CompletionScript(app, completion_shell).c_str()); });

  // daemon
  auto* daemon_cmd = app.add_subcommand("daemon", "Run the daemon (as root) in the foreground");
  std::string upstream_ca;
  daemon_cmd->add_option("--upstream-ca", upstream_ca,
                         "For tests only: one more CA the daemon trusts for the real servers of "
                         "intercepted hosts (besides the system's)");
  daemon_cmd->callback([&] {
    std::vector<std::string> extra;
    if (!upstream_ca.empty()) extra = {"--upstream-ca", upstream_ca};
    c.code = ExecDaemon(c.global, extra);
  });

  std::vector<std::string> args(argv, argv + argc);
  MarkMissingExecName(&args);
  const int at = CommandIndex(args);
  const std::string cmd = at ? args[at] : "";
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      app.exit(e);
      return kOk;
    }
    return Fail(UsageMessage(app, args, at, e.what()), IsExecLike(cmd) ? kExecFailure : kUsage);
  }
  return c.code;
}

}  // namespace ws::cli
