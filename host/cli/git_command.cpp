#include "host/cli/git_command.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "host/cli/exec_command.h"
#include "host/common/cleanup.h"
#include "host/common/grpc_status.h"
#include "host/common/subprocess.h"
#include "host/common/unique_fd.h"

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

}  // namespace

GitCommand::GitCommand(CLI::App& app, Context& context) : c(context) {
  auto* git = app.add_subcommand("git", "Git between a workspace and the host");
  git->require_subcommand(1);
  auto* fetch = git->add_subcommand(
      "fetch", "Fetch the commits made in a workspace into the host repository as refs/workspace/NAME/*");
  fetch->add_option("name", name, "Workspace name")->required();
  fetch->add_option("guest_path", guest_path, "The shared repository's guest path (when it has several)");
  fetch->add_option("--max-size", max_mib, "Largest bundle taken, in MiB (default 2048)")
      ->check(CLI::Range(1u, 1u << 20));
  fetch->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
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
      return void(c.code = Fail(repos == 0 ? "'" + name + "' has no read-write share holding a git repository" +
                                                 (guest_path.empty() ? "" : " at " + guest_path)
                                           : "'" + name + "' shares several git repositories; name one by its "
                                             "guest path: workspace git fetch " + name + " GUEST_PATH",
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
      return void(c.code = Fail("the bundle from '" + name + "' passed " + std::to_string(max_mib) +
                                    " MiB and was not taken; fetch a larger one with --max-size MIB",
                                1));
    }
    if (rc != 0) return void(c.code = Fail("making the bundle in '" + name + "' failed (exit " + std::to_string(rc) + ")", 1));
    if (lseek(fd.get(), 0, SEEK_END) == 0) {
      std::printf("nothing to fetch: '%s' has no commits that %s lacks\n", name.c_str(), share->host_path().c_str());
      return;
    }
    // The bundle is untrusted data: verified against this repository, and
    // every object checked as it is fetched.
    const std::string repo = share->host_path();
    auto verify = RunCommand({"git", "-C", repo, "bundle", "verify", "-q", bundle});
    if (!verify.ok()) return void(c.code = Fail("the workspace's bundle does not apply here: " + verify.status().message(), 1));
    auto fetched = RunCommand({"git", "-C", repo, "-c", "fetch.fsckObjects=true", "fetch", "--no-tags", "--quiet",
                               bundle, "+refs/heads/*:refs/workspace/" + name + "/*"});
    if (!fetched.ok()) return void(c.code = Fail("git fetch from the bundle failed: " + fetched.status().message(), 1));
    auto refs = RunCommand({"git", "-C", repo, "for-each-ref", "--format=%(refname) %(objectname:short) %(subject)",
                            "refs/workspace/" + name + "/"});
    std::printf("fetched from '%s' into %s:\n%s", name.c_str(), repo.c_str(), refs.ok() ? refs->c_str() : "");
    if (Tty()) {
      std::fprintf(stderr, "Look with: git log refs/workspace/%s/<branch>; take with: git merge workspace/%s/<branch>\n",
                   name.c_str(), name.c_str());
    }
  });
}

}  // namespace ws::cli
