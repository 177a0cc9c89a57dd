#include "host/cli/git_command.h"

#include <google/protobuf/struct.pb.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "host/cli/exec_command.h"
#include "host/common/cleanup.h"
#include "host/common/grpc_status.h"
#include "host/common/printable.h"
#include "host/common/subprocess.h"
#include "host/common/unique_fd.h"
#include "host/shares/protected_paths.h"
#include "host/shares/view.h"

namespace ws::cli {
namespace {

// Run in the guest as root: a bundle of the guest's branches minus what the
// host's refs already reach, on stdout; nothing when there is nothing new.
constexpr char kBundleScript[] = R"SH(set -e
host=/run/workspace/host-git$1
if [ ! -d "$host" ] || [ ! -d "/run/workspace/guest-git$1" ]; then
  echo "no git directory of the workspace's own for $1 (an image without git, or no .git at boot)" >&2
  exit 3
fi
export GIT_DIR=/run/workspace/guest-git$1
not=$(git --git-dir="$host" for-each-ref --format='^%(objectname)')
[ "$(printf '%s\n' $not | git rev-list --count --branches --stdin)" = 0 ] && exit 0
{ git for-each-ref --format='%(refname)' refs/heads; printf '%s\n' $not; } | git bundle create - --stdin 2>/dev/null
)SH";

// --checkout: the shared folder already holds the workspace's files, so a
// merge would find them "local changes"; the host's branch is moved to the
// workspace's commit instead (only forward) and its index refreshed from
// it, the files left as they are. Returns what was done, for the user.
Result<std::string> FastForward(const std::string& repo, const std::string& name) {
  // `git -C repo ARGS`: its output's one line, "" when it failed.
  auto line = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", repo});
    auto out = RunCommand(args);
    std::string v = out.ok() ? out.value() : "";
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  };
  const std::string b = line({"symbolic-ref", "--quiet", "--short", "HEAD"});
  if (b.empty()) {
    return Status(Code::kFailedPrecondition,
                  "--checkout: " + repo + " has no branch checked out (detached HEAD)");
  }
  const std::string t =
      line({"rev-parse", "--verify", "--quiet", "refs/workspace/" + name + "/" + b + "^{commit}"});
  if (t.empty()) {
    return Status(Code::kFailedPrecondition, "--checkout: '" + name + "' has no branch " + b +
                                                 "; see: git branch -a --list 'workspace/" + name +
                                                 "/*'");
  }
  const std::string o = line({"rev-parse", "--verify", "--quiet", "HEAD^{commit}"});
  if (t == o) return "your " + b + " is at the workspace's already";
  // The index is refreshed from the new commit: nothing staged of the
  // user's may be lost, and no merge or the like be under way.
  if (!RunCommand({"git", "-C", repo, "diff", "--cached", "--quiet"}).ok()) {
    return Status(Code::kFailedPrecondition,
                  "--checkout: you have staged changes in " + repo +
                      "; commit them or unstage them (git restore --staged .) first");
  }
  const std::string gd = line({"rev-parse", "--absolute-git-dir"});
  if (gd.empty())
    return Status(Code::kFailedPrecondition,
                  "--checkout: cannot find the git directory of " + repo);
  for (const char* busy :
       {"MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply"}) {
    std::error_code ec;
    if (std::filesystem::exists(gd + "/" + busy, ec)) {
      return Status(Code::kFailedPrecondition, std::string("--checkout: a ") + busy +
                                                   " is under way in " + repo +
                                                   "; finish or abort it first");
    }
  }
  if (!o.empty() && !RunCommand({"git", "-C", repo, "merge-base", "--is-ancestor", o, t}).ok()) {
    return Status(Code::kFailedPrecondition,
                  "--checkout: your " + b +
                      " has commits the workspace's lacks; merge by hand: git stash && "
                      "git merge workspace/" +
                      name + "/" + b + " (the shared folder holds the workspace's files)");
  }
  auto moved = RunCommand({"git", "-C", repo, "update-ref", "-m", "workspace git fetch --checkout",
                           "refs/heads/" + b, t, o});
  if (!moved.ok())
    return Status(Code::kInternal,
                  "--checkout: moving " + b + " failed: " + moved.status().message());
  auto index = RunCommand({"git", "-C", repo, "reset", "--quiet", "--mixed"});
  if (!index.ok())
    return Status(Code::kInternal,
                  "--checkout: refreshing the index failed: " + index.status().message());
  std::string said = b + " fast-forwarded to " + t.substr(0, 12) +
                     " (files untouched; git status shows what differs)";
  // The guest cannot write the files your tools read or run in the share,
  // but it can commit changes to them: a later checkout, stash or restore
  // would write them. Say which.
  constexpr char kEmptyTree[] =
      "4b825dc642cb6eb9a060e54bf8d69288fbee4904";  // an unborn branch: all is new
  auto changed = RunCommand({"git", "-C", repo, "diff", "--no-renames", "--name-only", "-z",
                             o.empty() ? kEmptyTree : o, t});
  const shares::ProtectionRules rules{shares::GitHooksFolders(repo), {}};
  std::string risky;
  size_t listed = 0;
  if (changed.ok()) {
    const std::string& names = changed.value();
    for (size_t at = 0; at < names.size();) {
      size_t end = names.find('\0', at);
      if (end == std::string::npos) end = names.size();
      const std::string rel = names.substr(at, end - at);
      at = end + 1;
      if (shares::ProtectedPrefix(rel, rules).empty() && !shares::IsHostRunFile(rel)) continue;
      if (++listed <= 10) risky += (risky.empty() ? "" : ", ") + Printable(rel);
    }
  }
  if (listed) {
    std::fprintf(
        stderr,
        "workspace: the workspace's commits change %zu file%s your tools read or run: %s%s (read "
        "them before you check them out: git diff %s %s)\n",
        listed, listed == 1 ? "" : "s", risky.c_str(), listed > 10 ? ", ..." : "",
        o.substr(0, 12).c_str(), t.substr(0, 12).c_str());
  }
  return said;
}

}  // namespace

GitCommand::GitCommand(CLI::App& app, Context& context) : c(context) {
  auto* git = app.add_subcommand("git", "Git between a workspace and the host");
  git->require_subcommand(1);
  auto* fetch = git->add_subcommand(
      "fetch",
      "Fetch the commits made in a workspace into the host repository as refs/workspace/NAME/*");
  fetch->add_option("name", name, kNameHelp);
  fetch->add_option("guest_path", guest_path,
                    "The shared repository's guest path (when it has several)");
  fetch->add_flag(
      "--checkout", checkout,
      "Then fast-forward your checked-out branch to the workspace's branch of that name (the "
      "shared folder holds its files already; your index is refreshed, your files are untouched)");
  fetch->add_flag("--json", json, "JSON output (fields in docs/cli.md)");
  fetch->add_option("--max-size", max_mib, "Largest bundle taken, in MiB (default 2048)")
      ->check(CLI::Range(1u, 1u << 20));
  fetch->callback([&] {
    // `git fetch /workspace`: a guest path alone (names never start with '/').
    if (!name.empty() && name[0] == '/' && guest_path.empty()) std::swap(name, guest_path);
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &name)) return;
    grpc::ClientContext ctx;
    v1::InspectRequest req;
    req.set_name(name);
    v1::InspectResponse resp;
    Status s = FromGrpc(stub->Inspect(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    const v1::Share* share = nullptr;
    int repos = 0;
    for (const auto& sh : resp.workspace().shares()) {
      bool is_repo = sh.mode() == "rw" && !sh.git().empty();
      if (!is_repo || (!guest_path.empty() && sh.guest_path() != guest_path)) continue;
      share = &sh;
      ++repos;
    }
    if (repos != 1) {
      return void(c.code =
                      Fail(repos == 0
                               ? "'" + name + "' has no read-write share holding a git repository" +
                                     (guest_path.empty() ? "" : " at " + guest_path)
                               : "'" + name +
                                     "' shares several git repositories; name one by its "
                                     "guest path: workspace git fetch " +
                                     name + " GUEST_PATH",
                           1));
    }
    char tmpl[] = "/tmp/workspace-bundle-XXXXXX";
    unique_fd fd(mkstemp(tmpl));
    if (!fd) return void(c.code = Fail("cannot make a temporary file in /tmp", 1));
    const std::string bundle = tmpl;
    Cleanup remove([&] { unlink(bundle.c_str()); });

    ExecOptions o;
    o.workspace = name;
    o.argv = {"sh", "-c", kBundleScript, "sh", share->guest_path()};
    o.user = "root";
    o.stdout_fd = fd.get();
    o.max_stdout = static_cast<uint64_t>(max_mib) << 20;
    int rc = RunExec(stub, o);
    if (rc == kOutputTooLarge) {
      return void(c.code =
                      Fail("the bundle from '" + name + "' passed " + std::to_string(max_mib) +
                               " MiB and was not taken; fetch a larger one with --max-size MIB",
                           1));
    }
    if (rc != 0)
      return void(
          c.code = Fail(
              "making the bundle in '" + name + "' failed (exit " + std::to_string(rc) + ")", 1));
    const std::string repo = share->host_path();
    google::protobuf::Struct out;
    auto& fields = *out.mutable_fields();
    fields["repo"].set_string_value(repo);
    auto* refs_json = fields["refs"].mutable_list_value();
    const bool empty = lseek(fd.get(), 0, SEEK_END) == 0;
    if (empty && !json) {
      std::printf("nothing to fetch: '%s' has no commits that %s lacks\n", name.c_str(),
                  repo.c_str());
    }
    if (!empty) {
      // The bundle is untrusted data: verified against this repository, and
      // every object checked as it is fetched.
      auto verify = RunCommand({"git", "-C", repo, "bundle", "verify", "-q", bundle});
      if (!verify.ok())
        return void(
            c.code = Fail(
                "the workspace's bundle does not apply here: " + verify.status().message(), 1));
      auto fetched =
          RunCommand({"git", "-C", repo, "-c", "fetch.fsckObjects=true", "fetch", "--no-tags",
                      "--quiet", bundle, "+refs/heads/*:refs/workspace/" + name + "/*"});
      if (!fetched.ok())
        return void(c.code =
                        Fail("git fetch from the bundle failed: " + fetched.status().message(), 1));
      auto refs = RunCommand({"git", "-C", repo, "for-each-ref",
                              "--format=%(refname) %(objectname:short) %(subject)",
                              "refs/workspace/" + name + "/"});
      if (json) {
        std::istringstream lines(refs.ok() ? refs.value() : "");
        for (std::string line; std::getline(lines, line);) {
          auto* r = refs_json->add_values()->mutable_struct_value()->mutable_fields();
          const auto a = line.find(' '), b = line.find(' ', a + 1);
          (*r)["ref"].set_string_value(line.substr(0, a));
          (*r)["id"].set_string_value(line.substr(a + 1, b - a - 1));
          (*r)["subject"].set_string_value(b == std::string::npos ? "" : line.substr(b + 1));
        }
      } else {
        std::printf("fetched from '%s' into %s:\n%s", name.c_str(), repo.c_str(),
                    refs.ok() ? Printable(refs.value(), true).c_str() : "");
      }
    }
    if (checkout) {
      auto moved = FastForward(repo, name);
      if (!moved.ok()) return void(c.code = Fail(moved.status()));
      fields["checked_out"].set_string_value(moved.value());
      if (!json && !moved->empty()) std::printf("%s\n", moved->c_str());
    } else if (!empty && !json && Tty()) {
      std::fprintf(
          stderr,
          "Look with: git log workspace/%s/<branch>; take them into your checked-out branch "
          "with: workspace git fetch --checkout %s\n",
          name.c_str(), name.c_str());
    }
    if (json) std::printf("%s\n", ToJson(out).c_str());
  });
}

}  // namespace ws::cli
