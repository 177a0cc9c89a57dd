#include "host/cli/completion.h"

#include <functional>
#include <vector>

namespace ws::cli {
namespace {

struct Node {
  std::string path;  // "" for the top, "image build" below
  std::vector<std::string> subs, opts;
  std::vector<std::pair<std::string, std::string>> sub_help;  // name, description
  const CLI::App* app = nullptr;
};

std::vector<Node> Walk(const CLI::App& app) {
  std::vector<Node> out;
  std::function<void(const CLI::App&, const std::string&)> visit = [&](const CLI::App& a,
                                                                       const std::string& path) {
    Node n;
    n.path = path;
    n.app = &a;
    for (const auto* sub : a.get_subcommands([](const CLI::App*) { return true; })) {
      n.subs.push_back(sub->get_name());
      n.sub_help.emplace_back(sub->get_name(), sub->get_description());
      for (const auto& alias : sub->get_aliases()) n.subs.push_back(alias);
    }
    for (const auto* o : a.get_options()) {
      for (const auto& l : o->get_lnames()) n.opts.push_back("--" + l);
      for (const auto& s : o->get_snames()) n.opts.push_back("-" + s);
    }
    out.push_back(n);
    for (const auto* sub : a.get_subcommands([](const CLI::App*) { return true; })) {
      visit(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name());
      // An alias completes as its command does.
      for (const auto& alias : sub->get_aliases())
        visit(*sub, path.empty() ? alias : path + " " + alias);
    }
  };
  visit(app, "");
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// For single-quoted shell words.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

std::string Bash(const std::vector<Node>& nodes) {
  std::string subs, opts;
  for (const auto& n : nodes) {
    subs += "    " + Quote(n.path) + ") echo " + Quote(Join(n.subs)) + " ;;\n";
    opts += "    " + Quote(n.path) + ") echo " + Quote(Join(n.opts)) + " ;;\n";
  }
  return "# bash completion for workspace (workspace completion bash)\n"
         "_workspace_subs() {\n  case \"$1\" in\n" +
         subs +
         "  esac\n}\n"
         "_workspace_opts() {\n  case \"$1\" in\n" +
         opts +
         "  esac\n}\n"
         R"SH(_workspace() {
  local cur="${COMP_WORDS[COMP_CWORD]}" path="" i w subs
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    [ "$w" = "--" ] && return 0  # after --: the guest's command
    subs=" $(_workspace_subs "$path") "
    if [[ "$w" != -* && "$subs" == *" $w "* ]]; then path="${path:+$path }$w"; fi
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_workspace_opts "$path")" -- "$cur"))
    return 0
  fi
  subs="$(_workspace_subs "$path")"
  if [ -n "$subs" ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  elif [ -n "$path" ]; then
    COMPREPLY=($(compgen -W "$(command workspace list -q 2>/dev/null)" -- "$cur"))
  fi
  return 0
}
complete -o default -F _workspace workspace
)SH";
}

std::string Fish(const std::vector<Node>& nodes) {
  std::string out =
      "# fish completion for workspace (workspace completion fish)\ncomplete -c workspace -f\n";
  for (const auto& n : nodes) {
    // The condition: this command path was typed, and none of its subcommands.
    std::string cond;
    if (n.path.empty()) {
      cond = "__fish_use_subcommand";
    } else {
      std::string last =
          n.path.substr(n.path.rfind(' ') == std::string::npos ? 0 : n.path.rfind(' ') + 1);
      cond = "__fish_seen_subcommand_from " + last;
      if (!n.subs.empty()) cond += "; and not __fish_seen_subcommand_from " + Join(n.subs);
    }
    for (const auto& [name, help] : n.sub_help) {
      out += "complete -c workspace -n " + Quote(cond) + " -a " + Quote(name) + " -d " +
             Quote(help) + "\n";
    }
    for (const auto* o : n.app->get_options()) {
      std::string line = "complete -c workspace -n " + Quote(cond);
      for (const auto& l : o->get_lnames()) line += " -l " + l;
      for (const auto& s : o->get_snames()) line += " -s " + s;
      if (o->get_type_size() != 0) line += " -r";
      out += line + " -d " + Quote(o->get_description()) + "\n";
    }
    if (n.subs.empty() && !n.path.empty()) {
      out += "complete -c workspace -n " + Quote(cond) +
             " -a '(command workspace list -q 2>/dev/null)'\n";
    }
  }
  return out;
}

}  // namespace

std::string CompletionScript(const CLI::App& app, const std::string& shell) {
  const auto nodes = Walk(app);
  if (shell == "bash") return Bash(nodes);
  if (shell == "zsh") {
    return "#compdef workspace\n# zsh completion for workspace (workspace completion zsh), through "
           "bash's\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           Bash(nodes);
  }
  if (shell == "fish") return Fish(nodes);
  return "";
}

}  // namespace ws::cli
