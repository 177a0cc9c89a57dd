// Shared folders on real VMs, against a hostile guest root: only the chosen
// folders, read-only enforced on the host, ids mapped (never host root), no
// devices or set-id files, no symlink escape, git and secrets protected.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/environment.h"

namespace ws::test {
namespace {

namespace fs = std::filesystem;
World& W() { return World::Get(); }
constexpr uid_t kOwner = 1234;

std::string MakeProject(const std::string& name) {
  std::string dir = W().NewFolder(name);
  std::ofstream(dir + "/readme.txt") << "project file\n";
  std::ofstream(dir + "/.env") << "API_TOKEN=canary-env-7f3a\n";
  std::ofstream(dir + "/.npmrc") << "//registry.npmjs.org/:_authToken=canary-npm-91bc\n";
  std::ofstream(dir + "/.env.example") << "API_TOKEN=\n";
  ws::test::Run({"chown", "-R", std::to_string(kOwner) + ":" + std::to_string(kOwner), dir});
  return dir;
}

// Names, types, modes, owners and contents of everything under dir.
std::string TreeState(const std::string& dir) {
  std::ostringstream out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st;
    lstat(e.path().c_str(), &st);
    out << e.path() << " " << std::oct << st.st_mode << std::dec << " " << st.st_uid << " ";
    if (S_ISREG(st.st_mode)) {
      std::ifstream f(e.path());
      out << f.rdbuf();
    }
    out << "\n";
  }
  return out.str();
}

// git in `dir` as the folder's owner, with HOME `home` (where a hook the
// guest planted would leave its marker).
RunResult OwnersGit(const std::string& dir, const std::string& home, const std::string& args) {
  RunOptions o;
  o.env["HOME"] = home;
  for (const char* k : {"GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"}) o.env[k] = "t";
  for (const char* k : {"GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"}) o.env[k] = "t@t";
  return ws::test::Run(
      {"setpriv", "--reuid=" + std::to_string(kOwner), "--regid=" + std::to_string(kOwner),
       "--clear-groups", "sh", "-c", "cd " + dir + " && git " + args},
      o);
}

RunResult Guest(const std::string& ws, const std::string& script,
                const std::string& user = "root") {
  return W().Cli({"exec", "-u", user, ws, "--", "sh", "-c", script});
}

TEST(Shares, ReadWriteShareMapsIdsAndIsSeenBothWays) {
  std::string dir = MakeProject("rw");
  ASSERT_EQ(W().Cli({"create", "rw", "--share", dir + ":/workspace"}).code, 0);
  EXPECT_EQ(Guest("rw", "cat /workspace/readme.txt", "user").out, "project file\n");
  EXPECT_EQ(Guest("rw", "stat -c %u /workspace/readme.txt", "user").out, "1000\n")
      << "owner shows as user";
  ASSERT_EQ(Guest("rw", "echo from-guest > /workspace/g.txt && mkdir /workspace/gd", "user").code,
            0);
  struct stat st;
  ASSERT_EQ(stat((dir + "/g.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kOwner) << "guest user's file belongs to the folder's owner";
  std::ofstream(dir + "/h.txt") << "from-host";
  EXPECT_EQ(Guest("rw", "cat /workspace/h.txt", "user").out, "from-host");
  ASSERT_EQ(Guest("rw", "echo r > /workspace/rootfile").code, 0);
  ASSERT_EQ(stat((dir + "/rootfile").c_str(), &st), 0);
  EXPECT_NE(st.st_uid, 0u) << "guest root must never be host root";
  EXPECT_EQ(st.st_uid, getpwnam("workspace-guest")->pw_uid);
  EXPECT_EQ(W().Cli({"destroy", "-f", "rw"}).code, 0);
}

TEST(Shares, ANonRootCallersShareMapsTheGuestUserToTheCaller) {
  if (getpwnam("wstest-member") == nullptr) {
    ws::test::Run({"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                   "wstest-member"});
  }
  ws::test::Run({"gpasswd", "-a", "wstest-member", "workspace"});
  const uid_t member = getpwnam("wstest-member")->pw_uid;
  ASSERT_EQ(W().Cli({"list"}).code, 0) << "root's CLI starts the daemon";
  std::string dir = W().NewFolder("members-project");
  ws::test::Run({"chown", "wstest-member:", dir});
  auto create = W().CliAs("wstest-member", {"create", "memshare", "--share", dir + ":/workspace"});
  ASSERT_EQ(create.code, 0) << create.err;
  ASSERT_EQ(
      W().CliAs("wstest-member", {"exec", "memshare", "--", "sh", "-c", "echo x > /workspace/made"})
          .code,
      0);
  struct stat st;
  ASSERT_EQ(stat((dir + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, member);
  // A folder the caller cannot write is refused for a read-write share.
  std::string roots = W().NewFolder("roots-only");
  auto denied = W().CliAs("wstest-member", {"create", "memshare2", "--share", roots});
  EXPECT_EQ(denied.code, 1);
  EXPECT_NE(denied.err.find("read-only with :ro"), std::string::npos) << denied.err;
  EXPECT_EQ(W().CliAs("wstest-member", {"destroy", "-f", "memshare"}).code, 0);
}

TEST(Shares, GuestRootMakesNoDevicesSetIdFilesOrRootFilesOnTheHost) {
  std::string dir = MakeProject("hostile");
  ASSERT_EQ(W().Cli({"create", "hostile", "--share", dir + ":/workspace"}).code, 0);
  ASSERT_EQ(Guest("hostile", "echo x > /workspace/mine; chmod 755 /workspace/mine", "user").code,
            0);
  Guest("hostile",
        "cd /workspace; mknod blk b 8 0; mknod chr c 1 3; chmod 4755 mine; chmod 2755 mine; "
        "chmod u+s mine; cp /bin/busybox suid; chmod 6755 suid; mkdir sgid; chmod 2775 sgid; true");
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st;
    lstat(e.path().c_str(), &st);
    EXPECT_FALSE(S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)) << e.path();
    EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u) << e.path();
    EXPECT_NE(st.st_uid, 0u) << e.path();
  }
  EXPECT_EQ(W().Cli({"destroy", "-f", "hostile"}).code, 0);
}

TEST(Shares, ReadOnlyShareHoldsAgainstGuestRoot) {
  std::string dir = MakeProject("ro");
  const std::string before = TreeState(dir);
  ASSERT_EQ(W().Cli({"create", "ro", "--share", dir + ":/data:ro"}).code, 0);
  EXPECT_EQ(Guest("ro", "cat /data/readme.txt").out, "project file\n");
  auto attack =
      Guest("ro",
            "mount -o remount,rw /data; cd /data; rm -rf readme.txt; touch new; "
            "chmod 777 readme.txt; mv readme.txt moved; mknod dev c 1 3; echo x >> readme.txt; "
            "rm -rf /data/* 2>&1; touch /data/after-remount 2>&1");
  EXPECT_NE(attack.out.find("Read-only file system"), std::string::npos)
      << attack.out << attack.err;
  EXPECT_EQ(TreeState(dir), before);
  EXPECT_EQ(W().Cli({"destroy", "-f", "ro"}).code, 0);
}

TEST(Shares, HostSymlinksDoNotLeadOutOfTheShare) {
  std::string canary_dir = W().NewFolder("canary-dir");
  std::ofstream(canary_dir + "/secret") << "canary-outside-5d21";
  std::string dir = MakeProject("links");
  fs::create_symlink(canary_dir + "/secret", dir + "/abs");
  fs::create_symlink("../canary-dir/secret", dir + "/rel");
  fs::create_symlink("../../../../../../../../" + canary_dir.substr(1) + "/secret", dir + "/deep");
  fs::create_symlink("/", dir + "/root");
  ASSERT_EQ(W().Cli({"create", "links", "--share", dir + ":/workspace"}).code, 0);
  std::ofstream(dir + "/inside") << "inside-7f3e";
  auto r = Guest(
      "links",
      "cat /workspace/inside; cat /workspace/abs /workspace/rel /workspace/deep /workspace/root" +
          canary_dir + "/secret 2>&1; ls /workspace/root/; echo ran-to-the-end");
  // Control: the command ran, and read what is in the share.
  EXPECT_NE(r.out.find("inside-7f3e"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("ran-to-the-end"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("canary-outside"), std::string::npos) << r.out;
  EXPECT_EQ(W().Cli({"destroy", "-f", "links"}).code, 0);
}

TEST(Shares, SecretFilesAreHiddenUnlessShown) {
  std::string dir = MakeProject("secrets");
  auto create = W().Cli({"create", "secrets", "--share", dir + ":/workspace"});
  ASSERT_EQ(create.code, 0);
  EXPECT_NE(create.err.find(".npmrc"), std::string::npos) << "create says what it hid";
  auto r =
      Guest("secrets", "cat /workspace/.env /workspace/.npmrc; echo; cat /workspace/.env.example");
  EXPECT_EQ(r.out.find("canary"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("API_TOKEN="), std::string::npos) << ".env.example is visible";
  EXPECT_NE(Guest("secrets", "echo x > /workspace/.env").code, 0);
  auto inspect = W().Cli({"inspect", "secrets", "--json"});
  EXPECT_NE(inspect.out.find("\"hidden\":[\".env\"]"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("\"stripped\":[\".npmrc\"]"), std::string::npos) << inspect.out;
  EXPECT_EQ(W().Cli({"destroy", "-f", "secrets"}).code, 0);

  ASSERT_EQ(W().Cli({"create", "shown", "--share", dir + ":/workspace", "--show", ".env"}).code, 0);
  EXPECT_NE(Guest("shown", "cat /workspace/.env").out.find("canary-env"), std::string::npos);
  EXPECT_EQ(Guest("shown", "cat /workspace/.npmrc").out.find("canary"), std::string::npos);
  EXPECT_EQ(W().Cli({"destroy", "-f", "shown"}).code, 0);
}

// Secrets below the top, behind a symlink, in a git remote's URL; config
// files that hold settings besides their credentials keep the settings.
TEST(Shares, SecretsAreHiddenAtEveryDepthAndConfigsLoseOnlyTheirCredentials) {
  std::string dir = MakeProject("deep");
  auto put = [&](const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(dir + "/" + rel).parent_path());
    std::ofstream(dir + "/" + rel) << text;
  };
  put("packages/app/.env", "API_TOKEN=canary-deep-1\n");
  put("packages/app/.envrc", "export GITHUB_TOKEN=canary-deep-2\n");
  put("config/prod.secrets", "DB_PASSWORD=canary-deep-3\n");
  fs::create_symlink("../config/prod.secrets", dir + "/packages/.env");
  put("ops/.ssh/id_ed25519", "canary-deep-4\n");
  put("ops/deploy.pem", "-----BEGIN PRIVATE KEY-----\ncanary-deep-5\n");
  put(".npmrc",
      "package-lock=false\nignore-scripts=true\n//registry.npmjs.org/:_authToken=canary-deep-6\n");
  put("lib/readme.md", "visible-control\n");
  ws::test::Run({"chown", "-R", std::to_string(kOwner) + ":" + std::to_string(kOwner), dir});
  ASSERT_EQ(ws::test::Run({"setpriv", "--reuid=" + std::to_string(kOwner),
                           "--regid=" + std::to_string(kOwner), "--clear-groups", "sh", "-c",
                           "cd " + dir +
                               " && git init -q && git remote add origin "
                               "https://x-access-token:canary-deep-7@github.com/o/r.git"})
                .code,
            0);
  auto create = W().Cli({"create", "deep", "--share", dir + ":/workspace"});
  ASSERT_EQ(create.code, 0) << create.err;
  EXPECT_NE(create.err.find("Hidden from the guest: " + dir + "/packages/app/.env"),
            std::string::npos)
      << create.err;
  auto look = Guest("deep",
                    "cd /workspace; cat lib/readme.md .env.example .npmrc; "
                    "grep -rs canary . ; cat packages/.env packages/app/.env packages/app/.envrc; "
                    "ls ops/.ssh; cat .git/config; true");
  EXPECT_EQ(look.out.find("canary"), std::string::npos) << look.out;
  EXPECT_NE(look.out.find("visible-control"), std::string::npos)
      << "the share is readable: " << look.out;
  EXPECT_NE(look.out.find("ignore-scripts=true"), std::string::npos)
      << ".npmrc keeps its settings: " << look.out;
  EXPECT_NE(look.out.find("url = https://github.com/o/r.git"), std::string::npos) << look.out;
  auto inspect = W().Cli({"inspect", "deep", "--json"}).out;
  for (const char* p : {"packages/app/.env", "packages/app/.envrc", "config/prod.secrets",
                        "ops/.ssh", "ops/deploy.pem"}) {
    EXPECT_NE(inspect.find("\"" + std::string(p) + "\""), std::string::npos)
        << p << ": " << inspect;
  }
  EXPECT_NE(inspect.find("\"stripped\":[\".git/config\",\".npmrc\"]"), std::string::npos)
      << inspect;
  // A secret that appears on the host after start is seen until the next start.
  fs::create_directories(dir + "/late");
  std::ofstream(dir + "/late/.env.local") << "canary-late-8\n";
  EXPECT_NE(Guest("deep", "cat /workspace/late/.env.local").out.find("canary-late"),
            std::string::npos)
      << "the positive control: not masked while running";
  ASSERT_EQ(W().Cli({"stop", "deep"}).code, 0);
  ASSERT_EQ(W().Cli({"start", "deep"}).code, 0);
  EXPECT_EQ(Guest("deep", "cat /workspace/late/.env.local; cat /workspace/lib/readme.md").out,
            "visible-control\n");
  EXPECT_EQ(W().Cli({"destroy", "-f", "deep"}).code, 0);
  // --show takes a path below the top.
  ASSERT_EQ(
      W().Cli({"create", "deep", "--share", dir + ":/workspace", "--show", "packages/app/.env"})
          .code,
      0);
  EXPECT_NE(Guest("deep", "cat /workspace/packages/app/.env").out.find("canary-deep-1"),
            std::string::npos);
  EXPECT_EQ(Guest("deep", "cat /workspace/packages/app/.envrc").out, "");
  EXPECT_EQ(W().Cli({"destroy", "-f", "deep"}).code, 0);
}

TEST(Shares, TheHostsGitNeverRunsWhatTheGuestWrote) {
  std::string dir = MakeProject("repo");
  // The host user (the folder's owner) runs git; a hook would leave a marker.
  std::string markers = W().NewFolder("markers");
  chmod(markers.c_str(), 01777);
  std::string marker = markers + "/HOOK-RAN";
  auto git = [&](const std::string& args) { return OwnersGit(dir, markers, args); };
  auto init =
      git("init -q && mkdir -p .husky && git config core.hooksPath .husky && git add -A && "
          "git commit -qm init");
  ASSERT_EQ(init.code, 0) << init.err;
  ASSERT_EQ(W().Cli({"create", "repo", "--share", dir + ":/workspace"}).code, 0);
  const std::string hook = "#!/bin/sh\\ntouch " + marker + "\\n";
  for (const char* user : {"root", "user"}) {
    Guest("repo",
          "cd /workspace; "
          "printf '" +
              hook +
              "' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; "
              "printf '" +
              hook +
              "' > .husky/pre-commit; chmod +x .husky/pre-commit; "
              "printf '[core]\\n\\tfsmonitor = touch " +
              marker +
              "\\n\\thooksPath = hooks2\\n' >> .git/config; "
              "echo /tmp/evil > .git/commondir; mkdir -p .git/modules/m/hooks; "
              "mv .git .git-old; mkdir -p .git/hooks; printf '" +
              hook +
              "' > .git/hooks/post-commit; "
              "mkdir -p hooks2; printf '" +
              hook + "' > hooks2/pre-commit; chmod +x hooks2/pre-commit; true",
          user);
  }
  auto status = git("status --short");
  EXPECT_EQ(status.code, 0) << status.err;
  auto commit = git("commit -q --allow-empty -m host-commit");
  EXPECT_EQ(commit.code, 0) << commit.err;
  EXPECT_FALSE(fs::exists(marker)) << "the host's git ran code the guest wrote";
  EXPECT_TRUE(fs::is_directory(dir + "/.git/objects"));
  auto inspect = W().Cli({"inspect", "repo", "--json"});
  EXPECT_NE(inspect.out.find("\".git\""), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("\".husky\""), std::string::npos) << inspect.out;
  EXPECT_EQ(W().Cli({"destroy", "-f", "repo"}).code, 0);
}

// What the host's own tools read as configuration or run: the guest can
// neither make it where it is absent, nor change, move or remove it where it
// is there, by any route (mkdir, create, rename, hard or soft link, case
// variants, a subfolder's .git, a folder git's hooksPath names).
TEST(Shares, TheGuestCannotWriteWhatHostToolsReadOrRunEvenWhereAbsent) {
  std::string dir = MakeProject("guarded");
  fs::remove(dir + "/.npmrc");  // absent: the guest must not make it
  std::string markers = W().NewFolder("guarded-markers");
  chmod(markers.c_str(), 01777);
  const std::string marker = markers + "/HOOK-RAN";
  auto git = [&](const std::string& args) { return OwnersGit(dir, markers, args); };
  // A subfolder that is not a repository yet, and one that is (a nested
  // repository, as a monorepo's package or a submodule).
  fs::create_directories(dir + "/packages/app");
  fs::create_directories(dir + "/vendor/lib");
  ws::test::Run({"chown", "-R", std::to_string(kOwner) + ":" + std::to_string(kOwner), dir});
  ASSERT_EQ(git("init -q vendor/lib && git -C vendor/lib commit -q --allow-empty -m v").code, 0);
  ASSERT_EQ(
      git("init -q && git config core.hooksPath tools/hooks && git add -A && git commit -qm init")
          .code,
      0);
  ASSERT_EQ(W().Cli({"create", "guarded", "--share", dir + ":/workspace"}).code, 0);

  const std::string hook = "#!/bin/sh\\ntouch " + marker + "\\n";
  for (const std::string user : {"root", "user"}) {
    const std::string t1 = "t1-" + user, t2 = "t2-" + user;
    auto attack = Guest(
        "guarded",
        "cd /workspace; "
        "mkdir -p .claude; printf '{\"hooks\":{\"SessionStart\":[]}}' > .claude/settings.json; "
        "mkdir " +
            t1 + "; printf x > " + t1 + "/settings.json; mv " + t1 + " .claude; mv " + t1 +
            " .CLAUDE; "
            "mkdir -p .vscode; printf '{\"tasks\":[]}' > .vscode/tasks.json; ln -s " +
            t1 +
            " .vscode; "
            "printf 'registry=http://evil.test/\\n' > .npmrc; ln readme.txt .npmrc; "
            "printf 'net = \"open\"\\n' > .workspace.toml; printf 'x' > .envrc; "
            "mkdir packages/app/.git; printf 'gitdir: /tmp/evil\\n' > packages/app/.git; "
            "mkdir packages/app/.Git; printf 'gitdir: /tmp/evil\\n' > vendor/lib/.git/x; "
            "printf '" +
            hook +
            "' > vendor/lib/.git/hooks/post-commit; "
            "mv vendor/lib/.git vendor/lib/old-git; "
            "mkdir -p tools/hooks; printf '" +
            hook +
            "' > tools/hooks/pre-commit; "
            "mkdir -p " +
            t2 + "/hooks; printf '" + hook + "' > " + t2 +
            "/hooks/pre-commit; "
            "mv " +
            t2 + " tools/hooks; ln -s " + t2 +
            " tools/hooks; "
            "mkdir -p .cargo; printf '[alias]\\n' > .cargo/config.toml; "
            // Positive controls: ordinary work goes on beside them.
            "echo ok > ok-" +
            user + ".txt && mkdir -p src-" + user + "/lib && echo x > src-" + user +
            "/lib/a.js && echo new > .readme.tmp && mv .readme.tmp readme.txt && echo controls-ok",
        user);
    EXPECT_NE(attack.out.find("controls-ok"), std::string::npos)
        << user << ": " << attack.out << attack.err;
    EXPECT_NE(attack.err.find("Permission denied"), std::string::npos) << attack.err;
  }
  for (const char* absent :
       {".claude", ".CLAUDE", ".vscode", ".npmrc", ".workspace.toml", ".envrc", "packages/app/.git",
        "packages/app/.Git", "vendor/lib/.git/x", "vendor/lib/.git/hooks/post-commit",
        "vendor/lib/old-git", "tools/hooks", ".cargo/config.toml"}) {
    struct stat st;
    EXPECT_NE(lstat((dir + "/" + absent).c_str(), &st), 0) << absent << " reached the host";
  }
  EXPECT_TRUE(fs::is_directory(dir + "/vendor/lib/.git"))
      << "the nested repository's git dir stayed";
  EXPECT_TRUE(fs::exists(dir + "/ok-user.txt"));
  EXPECT_TRUE(fs::is_directory(dir + "/.cargo"))
      << "a folder on the way to a protected file may be made";
  std::ifstream readme(dir + "/readme.txt");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(readme), {}), "new\n")
      << "an editor's write-and-rename works";
  // The host's tools run nothing the guest wrote.
  EXPECT_EQ(git("status --short").code, 0);
  EXPECT_EQ(git("add -A && git commit -qm host-commit").code, 0);
  EXPECT_EQ(git("-C vendor/lib commit -q --allow-empty -m host").code, 0);
  EXPECT_EQ(git("-C packages/app status").code, 0)
      << "packages/app is still the outer repository's folder";
  EXPECT_FALSE(fs::exists(marker)) << "the host's git ran code the guest wrote";
  // Each refusal is seen: inspect counts them, the audit log has them.
  auto inspect = W().Cli({"inspect", "guarded", "--json"});
  EXPECT_NE(inspect.out.find("\"recent_refusals\":[{"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("\"tools/hooks\""), std::string::npos)
      << "git's hooks folder is protected: " << inspect.out;
  auto audit = W().Cli({"audit", "guarded", "--json"});
  EXPECT_NE(audit.out.find("\"target\":\"share\",\"port\":0,\"method\":\"mkdir\""),
            std::string::npos)
      << audit.out;
  EXPECT_NE(audit.out.find("\"path\":\".claude\""), std::string::npos) << audit.out;
  EXPECT_EQ(W().Cli({"destroy", "-f", "guarded"}).code, 0);
}

// A file with another name (a package store's copy outside the share, a
// protected name) is not written through this one; the shared folder keeps
// its owner; tools' config is protected in every folder but node_modules.
TEST(Shares, TheGuestWritesNoFileThroughAnotherNameNorTakesTheFolder) {
  std::string dir = MakeProject("linked");
  std::string store = W().NewFolder("linked-store");
  std::ofstream(store + "/pkg.js") << "module.exports = 'store copy';\n";
  fs::create_directories(dir + "/node_modules/pkg");
  fs::create_hard_link(store + "/pkg.js", dir + "/node_modules/pkg/index.js");
  ws::test::Run({"chown", "-R", std::to_string(kOwner) + ":" + std::to_string(kOwner), dir, store});
  ASSERT_EQ(W().Cli({"create", "linked", "--share", dir + ":/workspace"}).code, 0);
  auto r =
      Guest("linked",
            "cd /workspace; echo 'pwned' >> node_modules/pkg/index.js; echo append=$?; "
            "chown 0:0 /workspace; echo chown=$?; mkdir -p packages/app; "
            "mkdir packages/app/.claude; echo nested=$?; "
            "mkdir -p node_modules/other/.vscode && echo '{}' > node_modules/other/.vscode/s.json; "
            "echo nm=$?; mkdir -p app/src && mv app node_modules/app; echo movein=$?; "
            "mv node_modules/other other; echo moveout=$?; ln -s node_modules/other other2; echo "
            "link=$?; "
            "echo more >> readme.txt; echo control=$?");
  EXPECT_NE(r.out.find("append=1"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("chown=1"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("nested=1"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("nm=0"), std::string::npos)
      << "packages ship such files: " << r.out << r.err;
  EXPECT_NE(r.out.find("movein=1"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("moveout=1"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("link=1"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(fs::is_directory(dir + "/app/src")) << "refused, not half-made";
  EXPECT_NE(r.out.find("control=0"), std::string::npos)
      << "an ordinary write works: " << r.out << r.err;
  std::ifstream copy(store + "/pkg.js");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(copy), {}),
            "module.exports = 'store copy';\n");
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kOwner) << "the folder is still its owner's";
  EXPECT_FALSE(fs::exists(dir + "/packages/app/.claude"));
  EXPECT_EQ(W().Cli({"destroy", "-f", "linked"}).code, 0);
}

// --writable opens one protected path, and only that one.
TEST(Shares, WritableOpensOneProtectedPath) {
  std::string dir = MakeProject("opened");
  ASSERT_EQ(
      W().Cli({"create", "opened", "--share", dir + ":/workspace", "--writable", ".vscode"}).code,
      0);
  auto r =
      Guest("opened",
            "cd /workspace; mkdir .vscode && echo '{}' > .vscode/tasks.json && echo vscode-ok; "
            "mkdir .claude 2>&1; true",
            "user");
  EXPECT_NE(r.out.find("vscode-ok"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("Permission denied"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/.vscode/tasks.json"));
  EXPECT_FALSE(fs::exists(dir + "/.claude"));
  auto inspect = W().Cli({"inspect", "opened", "--json"}).out;
  EXPECT_NE(inspect.find("\"writable\":[\".vscode\"]"), std::string::npos) << inspect;
  EXPECT_EQ(W().Cli({"create", "bad", "--share", dir + ":/workspace", "--writable", "../x"}).code,
            2);
  EXPECT_EQ(W().Cli({"destroy", "-f", "opened"}).code, 0);
}

// What the guest changed that the host runs: listed, and said on destroy.
TEST(Shares, ChangesListsTheFilesHostToolsRunThatTheGuestEdited) {
  std::string dir = MakeProject("changed");
  std::ofstream(dir + "/package.json") << "{\"scripts\":{\"test\":\"node t.js\"}}\n";
  ws::test::Run({"chown", "-R", std::to_string(kOwner) + ":" + std::to_string(kOwner), dir});
  ASSERT_EQ(W().Cli({"create", "changed", "--share", dir + ":/workspace"}).code, 0);
  auto none = W().Cli({"changes", "changed"});
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.out, "") << "nothing changed yet";
  ASSERT_EQ(
      Guest("changed",
            "cd /workspace; "
            "printf '{\"scripts\":{\"test\":\"node t.js\",\"postinstall\":\"sh x\"}}' > "
            "package.json && "
            "printf '#!/bin/sh\\n' > build.sh && chmod +x build.sh && echo notes > notes.txt && "
            "mkdir -p node_modules/x && echo '{}' > node_modules/x/package.json",
            "user")
          .code,
      0);
  auto changes = W().Cli({"changes", "changed"});
  ASSERT_EQ(changes.code, 0) << changes.err;
  EXPECT_NE(changes.out.find("modified " + dir + "/package.json"), std::string::npos)
      << changes.out;
  EXPECT_NE(changes.out.find("created  " + dir + "/build.sh (executable)"), std::string::npos)
      << changes.out;
  EXPECT_EQ(changes.out.find("notes.txt"), std::string::npos) << changes.out;
  EXPECT_EQ(changes.out.find("node_modules"), std::string::npos) << changes.out;
  auto json = W().Cli({"changes", "changed", "--json"});
  EXPECT_NE(json.out.find("\"path\":\"build.sh\",\"kind\":\"created\""), std::string::npos)
      << json.out;
  auto destroy = W().Cli({"destroy", "-f", "changed"});
  EXPECT_EQ(destroy.code, 0);
  EXPECT_NE(destroy.err.find("created or changed 2 files your tools run: package.json, build.sh"),
            std::string::npos)
      << destroy.err;
}

TEST(Shares, StartingWithAVanishedShareSaysSo) {
  std::string dir = MakeProject("vanishing");
  ASSERT_EQ(W().Cli({"create", "vanish", "--share", dir + ":/workspace"}).code, 0);
  ASSERT_EQ(W().Cli({"stop", "vanish"}).code, 0);
  fs::remove_all(dir);
  auto start = W().Cli({"start", "vanish"});
  EXPECT_EQ(start.code, 1);
  EXPECT_NE(start.err.find("shared folder " + dir + " of 'vanish' is gone"), std::string::npos)
      << start.err;
  EXPECT_EQ(W().Cli({"destroy", "vanish"}).code, 0);
}

TEST(Shares, TheProjectFileDecidesAndTheGuestCannotChangeIt) {
  std::string dir = MakeProject("withfile");
  std::string data = W().NewFolder("withfile-data");
  auto init = W().Cli({"init"}, [&] {
    RunOptions o;
    o.cwd = dir;
    return o;
  }());
  ASSERT_EQ(init.code, 0) << init.err;
  EXPECT_EQ(W().Cli({"init"},
                    [&] {
                      RunOptions o;
                      o.cwd = dir;
                      return o;
                    }())
                .code,
            1)
      << "never overwrites";
  std::ofstream(dir + "/.workspace.toml")
      << "name = \"fromfile\"\nnet = \"allowlist\"\ndefault_allow = false\n"
         "allow = [\"api.example.com\"]\ncpus = 1\nmemory = 384\n"
         "[[share]]\npath = \".\"\nguest = \"/workspace\"\n"
         "[[share]]\npath = \"../withfile-data\"\nguest = \"/data\"\nread_only = true\n";
  ws::test::Run({"chown", std::to_string(kOwner) + ":", dir + "/.workspace.toml"});
  RunOptions o;
  o.cwd = dir;
  EXPECT_EQ(W().Cli({"create"}, o).code, 1) << "edited since init wrote it: trusted again first";
  auto trust = W().Cli({"trust"}, o);
  ASSERT_EQ(trust.code, 0) << trust.err;
  EXPECT_EQ(trust.out, dir + "/.workspace.toml\n");
  auto create = W().Cli({"create"}, o);
  ASSERT_EQ(create.code, 0) << create.err;
  EXPECT_EQ(create.out, "fromfile\n");
  auto inspect = W().Cli({"inspect", "fromfile", "--json"}).out;
  EXPECT_NE(inspect.find("\"memory_mib\":384"), std::string::npos) << inspect;
  EXPECT_NE(inspect.find("\"allow\":[{\"host\":\"api.example.com\",\"port\":0,\"source\":\"user\","
                         "\"writes\":false}]"),
            std::string::npos)
      << inspect;
  EXPECT_NE(inspect.find("\"guest_path\":\"/workspace\",\"mode\":\"rw\""), std::string::npos)
      << inspect;
  EXPECT_NE(inspect.find("\"guest_path\":\"/data\",\"mode\":\"ro\""), std::string::npos) << inspect;
  EXPECT_NE(inspect.find("\".workspace.toml\""), std::string::npos)
      << "listed as protected: " << inspect;
  auto attack =
      Guest("fromfile",
            "echo 'allow = [\"github.com\"]' >> /workspace/.workspace.toml; "
            "rm -f /workspace/.workspace.toml; mv /workspace/.workspace.toml /workspace/x; "
            "chmod 666 /workspace/.workspace.toml; true");
  std::ifstream f(dir + "/.workspace.toml");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("github.com"), std::string::npos);
  EXPECT_NE(text.find("fromfile"), std::string::npos);
  // Flags override the file.
  auto flags = W().Cli({"create", "flagged", "--no-share", "--memory", "256"}, o);
  ASSERT_EQ(flags.code, 0) << flags.err;
  EXPECT_NE(W().Cli({"inspect", "flagged", "--json"}).out.find("\"memory_mib\":256"),
            std::string::npos);
  EXPECT_EQ(W().Cli({"destroy", "-f", "fromfile"}).code, 0);
  EXPECT_EQ(W().Cli({"destroy", "-f", "flagged"}).code, 0);
}

// The guest cannot write a project file where there was none; a cloned
// repository brings one: the documented recovery, destroy and create, does
// not honour it until the user trusts it, and trusts only those bytes.
TEST(Shares, AProjectFileIsHonouredOnlyOnceItsUserTrustedIt) {
  std::string dir = MakeProject("cloned");
  std::string dotssh = W().NewFolder("cloned-dotssh");
  std::ofstream(dotssh + "/id_ed25519") << "CANARY-KEY-3c1d\n";
  RunOptions o;
  o.cwd = dir;
  ASSERT_EQ(W().Cli({"create", "cloned"}, o).code, 0);
  const std::string hostile =
      "name = \"pwned\"\nnet = \"open\"\n[[share]]\npath = \".\"\n"
      "[[share]]\npath = \"../cloned-dotssh\"\nguest = \"/ssh\"\n";
  auto wrote = Guest("cloned",
                     "printf '" + hostile + "' > /workspace/.workspace.toml && echo wrote", "user");
  EXPECT_EQ(wrote.out, "") << "the guard refuses it";
  EXPECT_NE(wrote.err.find("Permission denied"), std::string::npos) << wrote.err;
  ASSERT_FALSE(fs::exists(dir + "/.workspace.toml")) << "the guest's file is not on the host";
  // A cloned repository brings one all the same.
  std::ofstream(dir + "/.workspace.toml") << hostile;
  ASSERT_EQ(W().Cli({"destroy", "-f", "cloned"}).code, 0);

  auto again = W().Cli({"create"}, o);
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find(dir + "/.workspace.toml is not trusted"), std::string::npos)
      << again.err;
  EXPECT_NE(again.err.find("workspace trust"), std::string::npos) << again.err;
  auto list = W().Cli({"list"});
  ASSERT_EQ(list.code, 0);
  EXPECT_EQ(list.out.find("pwned"), std::string::npos) << "nothing made: " << list.out;
  // Without the file: the folder alone, the allowlist network.
  ASSERT_EQ(W().Cli({"create", "cloned", "--no-project-file"}, o).code, 0);
  auto inspect = W().Cli({"inspect", "--json", "cloned"}).out;
  EXPECT_NE(inspect.find("\"net\":\"allowlist\""), std::string::npos) << inspect;
  EXPECT_EQ(inspect.find("/ssh"), std::string::npos) << inspect;
  auto look = Guest("cloned", "cat /workspace/readme.txt; cat /ssh/id_ed25519 2>/dev/null; true");
  EXPECT_EQ(look.out, "project file\n") << "the share works, the key is not there";
  ASSERT_EQ(W().Cli({"destroy", "-f", "cloned"}).code, 0);

  // The user's own file, trusted: used; one byte changed: asked again.
  std::ofstream(dir + "/.workspace.toml") << "name = \"mine\"\ndefault_allow = false\ncpus = 1\n";
  EXPECT_EQ(W().Cli({"create"}, o).code, 1) << "not trusted yet";
  ASSERT_EQ(W().Cli({"trust"}, o).code, 0);
  auto mine = W().Cli({"create"}, o);
  ASSERT_EQ(mine.code, 0) << mine.err;
  EXPECT_EQ(mine.out, "mine\n");
  ASSERT_EQ(W().Cli({"destroy", "-f", "mine"}).code, 0);
  std::ofstream(dir + "/.workspace.toml", std::ios::app) << "net = \"open\"\n";
  auto changed = W().Cli({"create"}, o);
  EXPECT_EQ(changed.code, 1);
  EXPECT_NE(changed.err.find("has changed since you trusted it"), std::string::npos) << changed.err;
  auto trusted = W().Cli({"trust", "--list", "--json"});
  ASSERT_EQ(trusted.code, 0) << trusted.err;
  EXPECT_NE(trusted.out.find("\"path\":\"" + dir + "/.workspace.toml\""), std::string::npos)
      << trusted.out;
  EXPECT_NE(trusted.out.find("\"state\":\"changed\""), std::string::npos) << trusted.out;
  EXPECT_EQ(W().Cli({"trust", "--remove"}, o).code, 0);
  EXPECT_EQ(W().Cli({"trust", "--remove"}, o).code, 1) << "no longer trusted";
  EXPECT_EQ(W().Cli({"list"}).out.find("mine"), std::string::npos);
}

TEST(Shares, BadShareSpecsAreRefusedAndLeaveNothing) {
  std::string dir = W().NewFolder("okdir");
  std::ofstream(dir + "/file") << "x";
  std::string unreadable = W().NewFolder("unreadable");
  chmod(unreadable.c_str(), 0700);
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"--share", W().home() + "/missing"}, 1, "does not exist"},
      {{"--share", dir + "/file"}, 2, "not a directory"},
      {{"--share", "/:/host"}, 2, "refusing to share /"},
      {{"--share", dir + ":/w", "--share", W().project() + ":/w"}, 2, "/w"},
      {{"--share", dir + ":/proc/x"}, 2, "/proc"},
      {{"--share", W().state_dir()}, 2, "state dir"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"create", "bad"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = W().Cli(args);
    EXPECT_EQ(r.code, c.code) << c.args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  auto denied = W().CliAs("wstest-member", {"create", "bad", "--share", unreadable});
  EXPECT_EQ(denied.code, 1) << denied.err;
  EXPECT_NE(denied.err.find("cannot"), std::string::npos) << denied.err;
  auto home = W().Cli({"create", "bad"}, [&] {
    RunOptions o;
    o.cwd = W().home();
    return o;
  }());
  EXPECT_EQ(home.code, 2);
  EXPECT_NE(home.err.find("--no-share"), std::string::npos) << home.err;
  EXPECT_EQ(W().Cli({"list", "--json"}).out.find("\"bad\""), std::string::npos);
  EXPECT_FALSE(fs::exists(W().state_dir() + "/workspaces/bad"));
}

}  // namespace
}  // namespace ws::test
