#include "host/cli/project_file.h"

#include <gtest/gtest.h>

namespace ws::cli {

TEST(ProjectFile, ReadsEverySettingAndResolvesSharePaths) {
  auto f = ParseProjectFile(R"(
name = "demo"
image = "minimal"
cpus = 2
memory = 768
net = "allowlist"
allow = ["api.example.com", "*.corp.example:8443"]
default_allow = false
publish = ["3000", "8080:80"]
[[share]]
path = "."
guest = "/workspace"
[[share]]
path = "../data/"
guest = "/data"
read_only = true
)", "/home/u/proj");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->name, "demo");
  EXPECT_EQ(*f->cpus, 2u);
  EXPECT_EQ(*f->memory_mib, 768u);
  EXPECT_FALSE(*f->default_allow);
  EXPECT_EQ(f->allow.size(), 2u);
  EXPECT_EQ(f->publish[1], "8080:80");
  ASSERT_EQ(f->shares->size(), 2u);
  EXPECT_EQ((*f->shares)[0].path, "/home/u/proj");
  EXPECT_EQ((*f->shares)[1].path, "/home/u/data");
  EXPECT_TRUE((*f->shares)[1].read_only);
}

TEST(ProjectFile, EmptyFileSetsNothing) {
  auto f = ParseProjectFile("", "/p");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->name.has_value());
  EXPECT_FALSE(f->shares.has_value());
}

TEST(ProjectFile, BadFilesAreRefusedNamingTheKey) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (auto c : {Case{"cpus = \"two\"", "'cpus'"}, Case{"memory = -1", "'memory'"}, Case{"allow = \"x\"", "'allow'"},
                 Case{"nmae = \"x\"", "unknown key 'nmae'"}, Case{"name = ", ".workspace.toml"},
                 Case{"[[share]]\nguest = \"/w\"", "'share.path'"}}) {
    auto f = ParseProjectFile(c.text, "/p");
    ASSERT_FALSE(f.ok()) << c.text;
    EXPECT_NE(f.status().message().find(c.says), std::string::npos) << f.status().message();
  }
}

TEST(ProjectFile, TheTemplateParses) {
  auto f = ParseProjectFile(ProjectFileTemplate("myproj"), "/p");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->name, "myproj");
  EXPECT_EQ(*f->net, "allowlist");
  ASSERT_EQ(f->shares->size(), 1u);
  EXPECT_EQ((*f->shares)[0].guest, "/workspace");
}

}  // namespace ws::cli
