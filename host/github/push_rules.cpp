#include "host/github/push_rules.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

#include "host/common/ascii.h"

namespace ws::github {
namespace {

const std::vector<std::string>& DefaultGlobs() {
  static const std::vector<std::string> globs = {"refs/heads/agent/*", "refs/heads/workspace/*"};
  return globs;
}

// A GitHub owner or repository name: letters, digits, '-', '_', '.'; not
// "." or "..".
bool IsNamePart(std::string_view s) {
  if (s.empty() || s.size() > 100 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool HasWildcard(std::string_view glob) {
  return glob.find_first_of("*?[") != std::string_view::npos;
}

bool Matches(const std::string& glob, const std::string& ref) {
  return fnmatch(glob.c_str(), ref.c_str(), 0) == 0;
}

}  // namespace

std::string PushRule::ToString() const {
  if (ref_globs.empty()) return repo;
  std::string out;
  for (const auto& g : ref_globs) out += (out.empty() ? "" : ", ") + repo + ":" + g;
  return out;
}

Result<PushRule> ParsePushRule(std::string_view spec) {
  const size_t colon = spec.find(':');
  const std::string_view repo = spec.substr(0, colon);
  const size_t slash = repo.find('/');
  if (slash == std::string_view::npos || !IsNamePart(repo.substr(0, slash)) ||
      !IsNamePart(repo.substr(slash + 1))) {
    return Status(Code::kInvalidArgument,
                  "--push takes OWNER/REPO[:REF_GLOB], e.g. me/proj or me/proj:agent/*");
  }
  PushRule rule;
  rule.repo = AsciiLower(repo);
  if (colon != std::string_view::npos) {
    std::string glob(spec.substr(colon + 1));
    if (glob.empty() || glob.size() > 256 ||
        std::any_of(glob.begin(), glob.end(), [](unsigned char c) {
          return c <= ' ' || c >= 0x7f || c == '\\' || c == '~' || c == '^' || c == ':';
        })) {
      return Status(Code::kInvalidArgument,
                    "--push " + std::string(repo) +
                        ": the ref glob after ':' must be a non-empty "
                        "ASCII pattern without spaces or \\ ~ ^ :, e.g. agent/*");
    }
    if (glob.rfind("refs/", 0) != 0) glob = "refs/heads/" + glob;
    rule.ref_globs.push_back(std::move(glob));
  }
  return rule;
}

PushVerdict CheckRefUpdate(const std::vector<PushRule>& rules, std::string_view repo,
                           const RefUpdate& update) {
  PushVerdict v;
  const std::string name = AsciiLower(repo);
  std::vector<std::string> globs;
  bool listed = false;
  for (const auto& r : rules) {
    if (r.repo != name) continue;
    listed = true;
    globs.insert(globs.end(), r.ref_globs.begin(), r.ref_globs.end());
  }
  if (!listed) {
    v.reason = "pushes to " + name + " are not allowed (workspace allow NAME github --push " +
               name + ":agent/*)";
    return v;
  }
  if (globs.empty()) globs = DefaultGlobs();
  for (const auto& g : globs) {
    if (!Matches(g, update.ref)) continue;
    if (update.deletes() && HasWildcard(g)) continue;  // a deletion needs the ref named
    v.allowed = true;
    v.rule = name + ":" + g;
    return v;
  }
  std::string allowed;
  for (const auto& g : globs) allowed += (allowed.empty() ? "" : ", ") + g;
  v.reason = std::string(update.deletes() ? "deleting " : "updating ") + update.ref + " in " +
             name + " is not allowed: pushes there may " +
             (update.deletes() ? "delete only refs named exactly among: " : "update only: ") +
             allowed;
  return v;
}

std::optional<GitRequest> ParseGitPath(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.empty() || path[0] != '/') return std::nullopt;
  path.remove_prefix(1);
  const size_t s1 = path.find('/');
  if (s1 == std::string_view::npos) return std::nullopt;
  const size_t s2 = path.find('/', s1 + 1);
  if (s2 == std::string_view::npos) return std::nullopt;
  std::string_view owner = path.substr(0, s1), repo = path.substr(s1 + 1, s2 - s1 - 1);
  const std::string_view rest = path.substr(s2 + 1);
  if (repo.size() > 4 && repo.substr(repo.size() - 4) == ".git") repo.remove_suffix(4);
  if (!IsNamePart(owner) || !IsNamePart(repo)) return std::nullopt;
  GitRequest r;
  r.repo = AsciiLower(owner) + "/" + AsciiLower(repo);
  if (rest == "info/refs") {
    r.service = GitService::kInfoRefs;
  } else if (rest == "git-upload-pack") {
    r.service = GitService::kUploadPack;
  } else if (rest == "git-receive-pack") {
    r.service = GitService::kReceivePack;
  } else {
    return std::nullopt;
  }
  return r;
}

}  // namespace ws::github
