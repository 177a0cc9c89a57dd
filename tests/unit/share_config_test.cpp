#include "host/shares/share_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "host/shares/view.h"

namespace ws::shares {

ShareConfig Conf(const std::string& host, bool ro, uid_t ou, gid_t og, uid_t ru, gid_t rg,
                 std::vector<std::string> shown = {}) {
  ShareConfig c;
  c.host_path = host;
  c.read_only = ro;
  c.owner_uid = ou;
  c.owner_gid = og;
  c.root_uid = ru;
  c.root_gid = rg;
  c.shown = std::move(shown);
  return c;
}

TEST(ShareConfig, RoundTrips) {
  ShareConfig c = Conf("/home/u/p", false, 1000, 1001, 990, 991, {".env.local"});
  c.protect = {"tools/hooks"};
  c.writable = {".vscode", ".claude"};
  c.workspace = "w1";
  c.audit_log = "/var/lib/workspace/workspaces/w1/audit.log";
  auto back = ParseShareConfig(RenderShareConfig(c));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->host_path, "/home/u/p");
  EXPECT_FALSE(back->read_only);
  EXPECT_EQ(back->owner_gid, 1001u);
  EXPECT_EQ(back->root_uid, 990u);
  EXPECT_EQ(back->shown, std::vector<std::string>{".env.local"});
  EXPECT_TRUE(back->owner_rights) << "a member's by default";
  EXPECT_EQ(back->protect, c.protect);
  EXPECT_EQ(back->writable, c.writable);
  EXPECT_EQ(back->workspace, "w1");
  EXPECT_EQ(back->audit_log, c.audit_log);
  for (const char* bad :
       {"protect=/etc\n", "writable=../x\n", "workspace=a/b\n", "audit=rel\n", "writable=\n"}) {
    EXPECT_FALSE(ParseShareConfig(std::string("host=/p\nmode=ro\n") + bad).ok()) << bad;
  }
}

TEST(ShareConfig, CarriesTheDirectoryIdentityAndWhoseRights) {
  ShareConfig c = Conf("/p", true, 1000, 1000, 0, 0);
  c.dev = 2049;
  c.ino = 1ull << 40;
  c.owner_rights = false;
  auto back = ParseShareConfig(RenderShareConfig(c));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->dev, 2049u);
  EXPECT_EQ(back->ino, 1ull << 40);
  EXPECT_FALSE(back->owner_rights);
  EXPECT_FALSE(ParseShareConfig("host=/p\nmode=ro\nrights=all\n").ok());
  EXPECT_FALSE(ParseShareConfig("host=/p\nmode=ro\nino=-1\n").ok());
  EXPECT_FALSE(ParseShareConfig("host=/p\nmode=ro\nino=1\nino=2\n").ok());
  EXPECT_FALSE(ParseShareConfig("host=/p\nmode=ro\nshow=../x\n").ok());
  EXPECT_FALSE(ParseShareConfig("host=/p\nmode=ro\nshow=\n").ok());
}

TEST(ShareConfig, RefusesGuestRootAsHostRootAndGarbage) {
  ShareConfig c = Conf("/p", false, 1000, 1000, 0, 0);
  EXPECT_FALSE(ParseShareConfig(RenderShareConfig(c)).ok());
  c.read_only = true;  // nothing is written through a read-only view
  EXPECT_TRUE(ParseShareConfig(RenderShareConfig(c)).ok());
  EXPECT_FALSE(ParseShareConfig("host=/p\nmode=rw\nowner_uid=x\n").ok());
  EXPECT_FALSE(ParseShareConfig("host=rel\nmode=ro\n").ok());
  EXPECT_FALSE(ParseShareConfig("mode=ro\n").ok());
  EXPECT_FALSE(ParseShareConfig("host=/p\nmode=ro\nbogus=1\n").ok());
  // Issue #17's injection: a repeated key is an error, not the last one winning.
  EXPECT_FALSE(
      ParseShareConfig("host=/p\nmode=ro\nowner_uid=1000\nshow=x\nhost=/root\nowner_uid=0\n").ok());
  EXPECT_TRUE(ParseShareConfig("host=/p\nmode=ro\nshow=.env\nshow=.npmrc\n").ok())
      << "show repeats";
}

class ShareFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ws-share-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Touch(const std::string& rel) { std::ofstream(dir_ + "/" + rel) << "x"; }
  std::string dir_;
};

TEST_F(ShareFiles, GitPathsIncludeAHooksPathInsideTheShare) {
  EXPECT_TRUE(GitPathsToProtect(dir_).empty());
  std::filesystem::create_directories(dir_ + "/.git");
  std::filesystem::create_directories(dir_ + "/.husky");
  std::ofstream(dir_ + "/.git/config") << "[core]\n\thooksPath = .husky\n";
  EXPECT_EQ(GitPathsToProtect(dir_), (std::vector<std::string>{".git", ".husky"}));
  std::ofstream(dir_ + "/.git/config") << "[core]\n\thooksPath = /etc/outside\n";
  EXPECT_EQ(GitPathsToProtect(dir_), std::vector<std::string>{".git"});
  // git's keys are case-insensitive; the folder need not exist yet.
  std::ofstream(dir_ + "/.git/config")
      << "[core]\n\tHOOKSPATH = tools/hooks\n[include]\n\tpath = ../.gitconfig\n"
         "[includeIf \"onbranch:main\"]\n\tpath = cfg/main.inc\n[other]\n\tpath = x\n";
  EXPECT_EQ(GitHooksFolders(dir_),
            (std::vector<std::string>{"tools/hooks", ".gitconfig", ".git/cfg/main.inc"}))
      << "an include is relative to .git";
}

}  // namespace ws::shares
