// The CLI's front door: env the docker way, which workspace a command
// without NAME means, and the guest's answer about unfetched commits.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "host/cli/cli_support.h"
#include "host/cli/env_options.h"
#include "host/controller/unfetched_commits.h"

namespace ws::cli {
namespace {

const char* Lookup(const std::string& k) {
  if (k == "SET") return "from-here";
  if (k == "EMPTY") return "";
  return nullptr;
}

TEST(EnvOptions, KeyTakesTheCallersValueAndAnUnsetKeyIsLeftOut) {
  auto r = ResolveEnv({}, {"A=1", "SET", "EMPTY", "NOPE", "B=x=y"}, Lookup);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->env, (std::vector<std::string>{"A=1", "SET=from-here", "EMPTY=", "B=x=y"}));
  EXPECT_EQ(r->unset, std::vector<std::string>{"NOPE"});
  for (const char* bad : {"=x", "", "A\nB=1", "A\x1b=1"}) {
    EXPECT_FALSE(ResolveEnv({}, {bad}, Lookup).ok()) << bad;
  }
}

TEST(EnvOptions, EnvFileLinesAsDockerReadsThem) {
  EnvResult r;
  ASSERT_TRUE(ParseEnvFile("# comment\n\n  A=1 \nB=2\r\nQ=\"quoted\"\n", "f", Lookup, &r).ok());
  EXPECT_EQ(r.env, (std::vector<std::string>{"A=1 ", "B=2", "Q=\"quoted\""}));
  // A bare KEY in a file (which the guest may have written) would copy this
  // shell's value into the VM: refused, naming -e.
  EnvResult taken;
  Status bare = ParseEnvFile("A=1\nSET\n", "f", Lookup, &taken);
  EXPECT_FALSE(bare.ok());
  EXPECT_NE(bare.message().find("-e SET"), std::string::npos) << bare.message();
  EnvResult bad;
  Status s = ParseEnvFile("A=1\n=2\n", "f", Lookup, &bad);
  EXPECT_NE(s.message().find("f line 2"), std::string::npos) << s.message();
  EXPECT_FALSE(ResolveEnv({"/nonexistent/env"}, {}, Lookup).ok());
  EXPECT_FALSE(ResolveEnv({"/tmp"}, {}, Lookup).ok()) << "a folder is not an env file";
}

v1::ListResponse List(std::initializer_list<std::pair<const char*, const char*>> name_and_share) {
  v1::ListResponse l;
  for (const auto& [n, sh] : name_and_share) {
    auto* w = l.add_workspaces();
    w->set_name(n);
    w->set_owner_uid(std::string(n).rfind("member-", 0) == 0 ? 1001 : 0);
    if (*sh) w->add_shares()->set_host_path(sh);
  }
  return l;
}

TEST(NameFromFolder, TheNearestSharedFolderUpwardsElseTheFoldersName) {
  std::string why;
  auto l =
      List({{"app", "/src/app"}, {"other", "/src/other"}, {"lib", "/src/app/lib"}, {"plain", ""}});
  EXPECT_EQ(WorkspaceForFolder(l, "/src/app", 0, &why).value(), "app");
  EXPECT_EQ(why, "") << "obvious: it shares this folder and is named after it";
  EXPECT_EQ(WorkspaceForFolder(l, "/src/app/lib/x/y", 0, &why).value(), "lib");
  EXPECT_NE(why.find("/src/app/lib"), std::string::npos) << "said which, and why";
  EXPECT_EQ(WorkspaceForFolder(l, "/src/app/src", 0, &why).value(), "app");
  why.clear();
  EXPECT_EQ(WorkspaceForFolder(l, "/home/u/plain", 0, &why).value(), "plain")
      << "named after the folder";
  EXPECT_EQ(why, "") << "it shares nothing: obvious";
  EXPECT_EQ(WorkspaceForFolder(l, "/tmp/other", 0, &why).value(), "other");
  EXPECT_NE(why.find("/src/other"), std::string::npos)
      << "named after the folder, made from another: said";
  auto none = WorkspaceForFolder(l, "/srv/x", 0, &why);
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_NE(none.status().message().find("workspace create"), std::string::npos);
  // Root sees a member's workspaces in its list; never picks one.
  auto members = List({{"member-x", "/srv/app"}, {"app", ""}});
  EXPECT_EQ(WorkspaceForFolder(members, "/srv/app", 0, &why).value(), "app")
      << "root's own, by the folder's name";
  EXPECT_FALSE(WorkspaceForFolder(List({{"member-x", "/srv/app"}}), "/srv/app", 0, &why).ok());
  EXPECT_EQ(WorkspaceForFolder(members, "/srv/app", 1001, &why).value(), "member-x");
  auto two = List({{"a", "/p"}, {"b", "/p"}});
  auto amb = WorkspaceForFolder(two, "/p/q", 0, &why);
  ASSERT_FALSE(amb.ok());
  EXPECT_NE(amb.status().message().find("a, b"), std::string::npos) << amb.status().message();
}

}  // namespace
}  // namespace ws::cli

namespace ws::controller {
namespace {

TEST(UnfetchedCommits, TheGuestsAnswerIsCleanedBoundedAndRoundTrips) {
  Unfetched u = ParseAnswer(
      "C /workspace 7\nL /workspace abc123 fix \x1b[2Jthings\nL /workspace d1 two\n"
      "C /other x\nC /third 99999999999\ngarbage\n");
  EXPECT_EQ(u.count, 7u) << "counts that are not small numbers are ignored";
  ASSERT_EQ(u.commits.size(), 2u);
  EXPECT_EQ(u.commits[0].find('\x1b'), std::string::npos) << u.commits[0];
  char t[] = "/tmp/ws-unfetched-XXXXXX";
  const std::string dir = mkdtemp(t);
  ASSERT_TRUE(Record(dir + "/unfetched", u).ok());
  Unfetched back = ReadRecord(dir + "/unfetched");
  EXPECT_EQ(back.count, 7u);
  EXPECT_EQ(back.commits, u.commits);
  EXPECT_EQ(ReadRecord(dir + "/none").count, 0u);
  EXPECT_FALSE(ReadRecord(dir + "/none").unknown);
  Unfetched unknown;
  unknown.unknown = true;
  ASSERT_TRUE(Record(dir + "/unknown", unknown).ok());
  EXPECT_TRUE(ReadRecord(dir + "/unknown").unknown) << "stopped without being asked: not known";
  EXPECT_NE(RefuseLosing("ws1", "destroy", unknown).message().find("destroy --force ws1"),
            std::string::npos);
  std::string many;
  for (int i = 0; i < 50; ++i) many += "L /w id" + std::to_string(i) + " s\n";
  EXPECT_EQ(ParseAnswer(many).commits.size(), kShownCommits);
  Status s = RefuseLosing("ws1", "reset", back);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("workspace git fetch ws1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("reset --force ws1"), std::string::npos);
  EXPECT_NE(s.message().find("and 5 more"), std::string::npos) << s.message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ws::controller
