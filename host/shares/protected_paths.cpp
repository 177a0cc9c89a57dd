#include "host/shares/protected_paths.h"

#include <algorithm>

namespace ws::shares {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && SameName(s.substr(s.size() - suffix.size()), suffix);
}

// Whether the components of `prefix` start those of `path`.
bool StartsWithPath(const std::vector<std::string_view>& path,
                    const std::vector<std::string_view>& prefix) {
  if (prefix.size() > path.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (!SameName(path[i], prefix[i])) return false;
  }
  return true;
}

// Whether `prefix` matches `path` from its component `at` on.
bool MatchesAt(const std::vector<std::string_view>& path, size_t at,
               const std::vector<std::string_view>& prefix) {
  if (prefix.size() > path.size() - at) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (!SameName(path[at + i], prefix[i])) return false;
  }
  return true;
}

bool IsWritable(const std::vector<std::string_view>& c, const ProtectionRules& rules) {
  return std::any_of(rules.writable.begin(), rules.writable.end(),
                     [&](const std::string& w) { return StartsWithPath(c, PathComponents(w)); });
}

// ToolConfigPaths() split into components, once.
const std::vector<std::vector<std::string_view>>& ToolConfigComponents() {
  static const auto* kSplit = [] {
    auto* out = new std::vector<std::vector<std::string_view>>;
    for (const auto& p : ToolConfigPaths()) out->push_back(PathComponents(p));
    return out;
  }();
  return *kSplit;
}

std::string Join(const std::vector<std::string_view>& c, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += '/';
    out += c[i];
  }
  return out;
}

}  // namespace

const std::vector<std::string>& ToolConfigPaths() {
  static const std::vector<std::string> kPaths = {
      ".git",
      ".gitmodules",
      ".workspace.toml",
      ".claude",
      ".mcp.json",
      ".cursor",
      ".gemini",
      ".codex",
      ".vscode",
      ".idea",
      ".devcontainer",
      ".envrc",
      ".husky",
      ".githooks",
      ".pre-commit-config.yaml",
      ".npmrc",
      ".yarnrc",
      ".yarnrc.yml",
      ".pypirc",
      "pip.conf",
      ".pnpmfile.cjs",
      "mise.toml",
      ".mise.toml",
      ".mvn",
      ".gitconfig",
      ".hg",
      ".zed",
      "rust-toolchain",
      "rust-toolchain.toml",
      ".bazeliskrc",
      ".cargo/config",
      ".cargo/config.toml",
      ".bundle/config",
      ".yarn/releases",
      ".yarn/plugins",
      "gradle/wrapper",
  };
  return kPaths;
}

std::vector<std::string_view> PathComponents(std::string_view rel) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < rel.size()) {
    size_t end = rel.find('/', at);
    if (end == std::string_view::npos) end = rel.size();
    if (end > at) out.push_back(rel.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::string ProtectedPrefix(std::string_view rel, const ProtectionRules& rules) {
  const auto c = PathComponents(rel);
  // git's directory (or gitfile) at any depth: a repository, a submodule or
  // a worktree the host's git would enter; and HEAD, without which no folder
  // is a bare repository to git (one the guest made, with a config of its
  // own, would be used by the host's git in that folder). HEAD is matched
  // exactly: "head" is a common folder name, and shares are case-sensitive
  // but for rare exceptions.
  for (size_t i = 0; i < c.size(); ++i) {
    if (!SameName(c[i], ".git") && c[i] != "HEAD") continue;
    // Opened only by a --writable that names this very one (.git), not by
    // one above it (--writable .vscode opens no repository inside .vscode).
    const std::vector<std::string_view> hit(c.begin(), c.begin() + static_cast<long>(i) + 1);
    const bool opened =
        std::any_of(rules.writable.begin(), rules.writable.end(), [&](const std::string& w) {
          const auto wc = PathComponents(w);
          return wc.size() == hit.size() && StartsWithPath(hit, wc);
        });
    if (!opened) return Join(c, i + 1);
    break;
  }
  if (IsWritable(c, rules)) return "";
  // The folders git's hooksPath names: from the top.
  for (const auto& p : rules.extra) {
    const auto pc = PathComponents(p);
    if (!pc.empty() && StartsWithPath(c, pc)) return Join(c, pc.size());
  }
  // Tools' config: in every folder (cargo, npm, direnv, Claude Code, ... read
  // it from the folder they run in), but not inside node_modules, where no
  // host tool looks for it and packages ship such files.
  for (size_t i = 0; i < c.size(); ++i) {
    if (SameName(c[i], "node_modules")) break;
    for (const auto& pc : ToolConfigComponents()) {
      if (MatchesAt(c, i, pc)) {
        // A path opened with --writable below the top is opened there only.
        const std::string hit = Join(c, i + pc.size());
        return IsWritable(PathComponents(hit), rules) ? "" : hit;
      }
    }
  }
  return "";
}

bool LeadsToProtected(std::string_view rel, const ProtectionRules& rules) {
  const auto c = PathComponents(rel);
  if (c.empty() || IsWritable(c, rules)) return false;
  for (const auto& p : rules.extra) {
    const auto pc = PathComponents(p);
    if (pc.size() > c.size() && StartsWithPath(pc, c) && !IsWritable(pc, rules)) return true;
  }
  // The last components of `rel` start a multi-component protected path
  // (".cargo" of ".cargo/config.toml", in any folder outside node_modules).
  for (auto part : c) {
    if (SameName(part, "node_modules")) return false;
  }
  for (const auto& pc : ToolConfigComponents()) {
    if (pc.size() < 2) continue;
    for (size_t k = 1; k < pc.size() && k <= c.size(); ++k) {
      const std::vector<std::string_view> tail(c.end() - static_cast<long>(k), c.end());
      const std::vector<std::string_view> head(pc.begin(), pc.begin() + static_cast<long>(k));
      if (StartsWithPath(tail, head) && tail.size() == head.size()) return true;
    }
  }
  return false;
}

bool UnderNodeModules(std::string_view rel) {
  for (auto part : PathComponents(rel)) {
    if (SameName(part, "node_modules")) return true;
  }
  return false;
}

Status ValidateWritablePath(const std::string& rel) {
  auto bad = [&](const std::string& why) {
    return Status(Code::kInvalidArgument, "--writable " + rel + ": " + why);
  };
  if (rel.empty()) return bad("empty");
  if (rel.size() > 1024) return bad("longer than 1024 bytes");
  if (rel.front() == '/')
    return bad("give a path relative to the shared folder's top, like .vscode");
  for (unsigned char ch : rel) {
    if (ch < 0x20 || ch == 0x7f) return bad("holds a control character");
  }
  const auto c = PathComponents(rel);
  if (Join(c, c.size()) != rel) return bad("not a plain path (doubled or trailing '/')");
  for (auto part : c) {
    if (part == "." || part == "..") return bad("'.' and '..' are not allowed");
  }
  return Status::Ok();
}

bool IsHostRunFile(std::string_view rel) {
  const auto c = PathComponents(rel);
  if (c.empty()) return false;
  for (auto part : c) {
    if (SameName(part, "node_modules")) return false;
  }
  const std::string_view name = c.back();
  for (std::string_view n :
       {"package.json", "Makefile", "GNUmakefile", "justfile", "pyproject.toml", "setup.py",
        "conftest.py", "gradlew", "mvnw", "CLAUDE.md", "AGENTS.md", "GEMINI.md"}) {
    if (SameName(name, n)) return true;
  }
  if (EndsWith(name, ".sh") && name.size() > 3) return true;
  return c.size() >= 3 && SameName(c[0], ".github") && SameName(c[1], "workflows");
}

}  // namespace ws::shares
