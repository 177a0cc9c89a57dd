// Which paths of a read-write share the guard keeps from the guest, which
// files `workspace changes` lists, and the guard's records.
#include "host/shares/protected_paths.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "host/common/printable.h"
#include "host/shares/guard_log.h"

namespace ws::shares {
namespace {

TEST(ProtectedPaths, HostToolsConfigIsProtectedAtTheTopWhetherItExistsOrNot) {
  ProtectionRules r;
  EXPECT_EQ(ProtectedPrefix(".claude", r), ".claude");
  EXPECT_EQ(ProtectedPrefix(".claude/settings.json", r), ".claude");
  EXPECT_EQ(ProtectedPrefix(".vscode/tasks.json", r), ".vscode");
  EXPECT_EQ(ProtectedPrefix(".workspace.toml", r), ".workspace.toml");
  EXPECT_EQ(ProtectedPrefix(".npmrc", r), ".npmrc");
  EXPECT_EQ(ProtectedPrefix(".cargo/config.toml", r), ".cargo/config.toml");
  EXPECT_EQ(ProtectedPrefix(".CLAUDE/x", r), ".CLAUDE") << "case variants are the same name";
  EXPECT_EQ(ProtectedPrefix(".VsCode", r), ".VsCode");
  // In every folder (tools read their config where they run), but not in
  // node_modules, where packages ship such files and no host tool looks.
  EXPECT_EQ(ProtectedPrefix("packages/app/.vscode/tasks.json", r), "packages/app/.vscode");
  EXPECT_EQ(ProtectedPrefix("crates/x/.cargo/config.toml", r), "crates/x/.cargo/config.toml");
  EXPECT_EQ(ProtectedPrefix("node_modules/pkg/.vscode/settings.json", r), "");
  EXPECT_EQ(ProtectedPrefix("node_modules/pkg/.git", r), "node_modules/pkg/.git")
      << "git everywhere";
  EXPECT_EQ(ProtectedPrefix(".yarn/releases/yarn-4.cjs", r), ".yarn/releases");
  EXPECT_EQ(ProtectedPrefix(".yarn/cache/x.zip", r), "");
  EXPECT_EQ(ProtectedPrefix(".cargo", r), "") << "the folder itself may be made";
  EXPECT_EQ(ProtectedPrefix(".cargo/registry", r), "");
  EXPECT_EQ(ProtectedPrefix("", r), "");
  EXPECT_EQ(ProtectedPrefix("src/main.rs", r), "");
  EXPECT_EQ(ProtectedPrefix(".claudex", r), "") << "a prefix of a name is another name";
}

TEST(ProtectedPaths, GitIsProtectedAtEveryDepth) {
  ProtectionRules r;
  EXPECT_EQ(ProtectedPrefix(".git", r), ".git");
  EXPECT_EQ(ProtectedPrefix(".git/hooks/pre-commit", r), ".git");
  EXPECT_EQ(ProtectedPrefix("packages/app/.git", r), "packages/app/.git");
  EXPECT_EQ(ProtectedPrefix("vendor/lib/.GIT/config", r), "vendor/lib/.GIT");
  EXPECT_EQ(ProtectedPrefix("a/.gitignore", r), "");
  EXPECT_EQ(ProtectedPrefix("a/.git-old", r), "");
  EXPECT_EQ(ProtectedPrefix("evil/HEAD", r), "evil/HEAD") << "no bare repository without it";
  EXPECT_EQ(ProtectedPrefix("components/head/index.js", r), "") << "a common folder name";
  EXPECT_EQ(ProtectedPrefix("a/HEADER.md", r), "");
}

TEST(ProtectedPaths, HooksFoldersAndWritableOnesFollowTheRules) {
  ProtectionRules r{{"tools/hooks"}, {".vscode", ".git"}};
  EXPECT_EQ(ProtectedPrefix("tools/hooks/pre-commit", r), "tools/hooks");
  EXPECT_EQ(ProtectedPrefix("tools/other", r), "");
  EXPECT_EQ(ProtectedPrefix(".vscode/tasks.json", r), "") << "opened with --writable";
  EXPECT_EQ(ProtectedPrefix(".git/config", r), "");
  EXPECT_EQ(ProtectedPrefix("sub/.git", r), "sub/.git") << "--writable .git opens the top one only";
  EXPECT_EQ(ProtectedPrefix("sub/.vscode", r), "sub/.vscode")
      << "--writable .vscode opens the top one only";
  EXPECT_EQ(ProtectedPrefix(".claude", r), ".claude");
}

TEST(ProtectedPaths, AWritableFolderOpensNoRepositoryInsideIt) {
  ProtectionRules r{{}, {".vscode"}};
  EXPECT_EQ(ProtectedPrefix(".vscode/x/.git", r), ".vscode/x/.git");
  EXPECT_EQ(ProtectedPrefix(".vscode/HEAD", r), ".vscode/HEAD");
  EXPECT_EQ(ProtectedPrefix(".vscode/tasks.json", r), "");
  for (const char* more :
       {".gitconfig", "crates/a/rust-toolchain.toml", ".hg/hgrc", ".zed/settings.json"}) {
    EXPECT_FALSE(ProtectedPrefix(more, r).empty()) << more;
  }
  EXPECT_TRUE(UnderNodeModules("a/Node_Modules/b"));
  EXPECT_FALSE(UnderNodeModules("a/node_modules_x/b"));
}

TEST(ProtectedPaths, AFolderOnTheWayToAProtectedPathMayNotAppearWhole) {
  ProtectionRules r{{"tools/hooks"}, {}};
  EXPECT_TRUE(LeadsToProtected(".cargo", r)) << "a renamed folder would bring config.toml";
  EXPECT_TRUE(LeadsToProtected(".Bundle", r));
  EXPECT_TRUE(LeadsToProtected("tools", r));
  EXPECT_TRUE(LeadsToProtected("crates/x/.cargo", r));
  EXPECT_TRUE(LeadsToProtected(".yarn", r));
  EXPECT_FALSE(LeadsToProtected("node_modules/x/.cargo", r));
  EXPECT_FALSE(LeadsToProtected(".cargo/registry", r));
  EXPECT_FALSE(LeadsToProtected("src", r));
  EXPECT_FALSE(LeadsToProtected("", r));
  EXPECT_FALSE(LeadsToProtected(".claude", r)) << "protected itself, not on the way";
  EXPECT_FALSE(LeadsToProtected("tools", {{"tools/hooks"}, {"tools"}}));
}

TEST(ProtectedPaths, WritablePathsAreRelativeAndPlain) {
  EXPECT_TRUE(ValidateWritablePath(".vscode").ok());
  EXPECT_TRUE(ValidateWritablePath("tools/hooks").ok());
  for (const std::string bad : {"", "/etc", "a/../b", "..", ".", "a//b", "a/", "a\nb", "a\x1b"}) {
    EXPECT_FALSE(ValidateWritablePath(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateWritablePath(std::string(2000, 'a')).ok());
}

TEST(ProtectedPaths, HostRunFilesAreWhatToolsRunOrAgentsRead) {
  for (const char* run :
       {"package.json", "packages/app/package.json", "Makefile", "build.sh", "scripts/x.SH",
        "pyproject.toml", "setup.py", ".github/workflows/ci.yml", "CLAUDE.md", "AGENTS.md",
        "docs/CLAUDE.md", "gradlew", "tests/conftest.py"}) {
    EXPECT_TRUE(IsHostRunFile(run)) << run;
  }
  for (const char* not_run :
       {"readme.txt", "src/a.js", ".github/CODEOWNERS", "node_modules/x/package.json",
        "a/node_modules/b/build.sh", ".sh", ""}) {
    EXPECT_FALSE(IsHostRunFile(not_run)) << not_run;
  }
}

TEST(GuardLog, RecordsRefusalsAndChangesBoundedAndReadsThemBack) {
  char tmpl[] = "/tmp/guard-log-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  GuardLog log(dir, dir + "/audit.log", "w1");
  log.Reset();
  EXPECT_EQ(ReadGuardState(dir).refused, 0u);
  for (int i = 0; i < 15; ++i)
    log.Refused("mkdir", ".claude" + std::to_string(i), GuardLog::ProtectedReason(".claude"));
  auto state = ReadGuardState(dir);
  EXPECT_EQ(state.refused, 15u);
  ASSERT_EQ(state.recent.size(), kMaxGuardRecent);
  EXPECT_EQ(state.recent.back().path, ".claude14");
  EXPECT_EQ(state.recent.back().op, "mkdir");
  std::ifstream audit(dir + "/audit.log");
  std::string line;
  ASSERT_TRUE(std::getline(audit, line));
  EXPECT_NE(line.find("\"target\":\"share\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"decision\":\"deny\""), std::string::npos) << line;
  EXPECT_NE(line.find("--writable .claude"), std::string::npos) << line;

  log.Changed("created", "build.sh");
  log.Changed("modified", "build.sh");  // once, as first seen
  log.Changed("modified", "a b/package.json");
  auto changes = ReadGuardChanges(dir);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].op, "created");
  EXPECT_EQ(changes[1].path, "a b/package.json") << "a space in a path survives";
  for (size_t i = 0; i < kMaxGuardChanges + 5; ++i)
    log.Changed("created", "f" + std::to_string(i) + ".sh");
  changes = ReadGuardChanges(dir);
  EXPECT_EQ(changes.size(), kMaxGuardChanges) << "bounded";
  EXPECT_EQ(changes.back().op, "more");
  log.Reset();
  EXPECT_TRUE(ReadGuardChanges(dir).empty()) << "a new start starts afresh";
  std::filesystem::remove_all(dir);
}

TEST(Printable, InvisibleFormatCharactersAreShownAndExactFormsComeBack) {
  EXPECT_EQ(Printable("a\xe2\x80\xae"
                      "b"),
            "a\\xe2\\x80\\xae"
            "b")
      << "a right-to-left override";
  EXPECT_EQ(Printable("a\xe2\x80\x8b"
                      "b"),
            "a\\xe2\\x80\\x8b"
            "b")
      << "a zero-width space";
  EXPECT_EQ(Printable("\xe2\x80\x94"), "\xe2\x80\x94") << "an em dash is text";
  for (const std::string& raw :
       {std::string("a\\x41b"), std::string("x\ny\xff"), std::string("\\\\")}) {
    EXPECT_EQ(FromPrintableExact(PrintableExact(raw)), raw);
  }
  EXPECT_NE(PrintableExact("a\\x41"), PrintableExact("aA"))
      << "a backslash is not taken for an escape";
}

TEST(Printable, GuestTextBecomesValidUtf8WithoutControls) {
  EXPECT_EQ(Printable("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(Printable("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(Printable("\xff\xfe"), "\\xff\\xfe") << "not UTF-8";
  EXPECT_EQ(Printable("\xc3"), "\\xc3") << "a cut sequence";
  EXPECT_EQ(Printable("\xe0\x80\x80"), "\\xe0\\x80\\x80") << "overlong";
  EXPECT_EQ(Printable("\xed\xa0\x80"), "\\xed\\xa0\\x80") << "a surrogate";
  EXPECT_EQ(Printable("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(Printable("\xc2\x9b"
                      "31m"),
            "\\xc2\\x9b31m")
      << "C1 CSI";
}

}  // namespace
}  // namespace ws::shares
