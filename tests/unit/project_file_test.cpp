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
secrets = ["anthropic", "github"]
[[share]]
path = "."
guest = "/workspace"
[[share]]
path = "../data/"
guest = "/data"
read_only = true
)",
                            "/home/u/proj");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->name, "demo");
  EXPECT_EQ(*f->cpus, 2u);
  EXPECT_EQ(*f->memory_mib, 768u);
  EXPECT_FALSE(*f->default_allow);
  EXPECT_EQ(f->allow.size(), 2u);
  EXPECT_EQ(f->publish[1], "8080:80");
  EXPECT_EQ(f->secrets, (std::vector<std::string>{"anthropic", "github"}));
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
  for (auto c : {Case{"cpus = \"two\"", "'cpus'"}, Case{"memory = -1", "'memory'"},
                 Case{"allow = \"x\"", "'allow'"}, Case{"secrets = [1]", "'secrets'"},
                 Case{"nmae = \"x\"", "unknown key 'nmae'"}, Case{"name = ", ".workspace.toml"},
                 Case{"[[share]]\nguest = \"/w\"", "'share.path'"},
                 Case{"[github]\npush = [\"me\"]", "github.push: --push takes OWNER/REPO"},
                 Case{"[github]\napi_write = [\"GET /x\"]", "github.api_write"},
                 Case{"[github]\npsuh = []", "unknown key 'github.psuh'"}}) {
    auto f = ParseProjectFile(c.text, "/p");
    ASSERT_FALSE(f.ok()) << c.text;
    EXPECT_NE(f.status().message().find(c.says), std::string::npos) << f.status().message();
  }
}

TEST(ProjectFile, TheGithubRuleSet) {
  auto f = ParseProjectFile(
      "allow = [\"github\"]\n[github]\npush = [\"me/proj\", \"me/proj:fix-*\"]\napi_write = "
      "[\"POST /repos/me/proj/pulls\"]\n",
      "/p");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->allow, std::vector<std::string>{"github"});
  EXPECT_EQ(f->github_push, (std::vector<std::string>{"me/proj", "me/proj:fix-*"}));
  EXPECT_EQ(f->github_api_writes, std::vector<std::string>{"POST /repos/me/proj/pulls"});
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

namespace ws::cli {

TEST(ProjectFile, ImageRecipesAndCpuModel) {
  auto f = ParseProjectFile(R"(
image = "agents"
cpu_model = "max"
[images.agents]
from = "debian"
run = ["npm i -g a", "pip install b"]
allow = ["pypi.example"]
[images.one]
from = "agents"
run = "echo single"
)",
                            "/p");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->cpu_model, "max");
  ASSERT_EQ(f->images.size(), 2u);
  EXPECT_EQ(f->images["agents"].from, "debian");
  EXPECT_EQ(f->images["agents"].run, (std::vector<std::string>{"npm i -g a", "pip install b"}));
  EXPECT_EQ(f->images["agents"].allow, (std::vector<std::string>{"pypi.example"}));
  EXPECT_EQ(f->images["one"].run, (std::vector<std::string>{"echo single"}));
  EXPECT_NE(f->images["one"].source.find("[images.one]"), std::string::npos);
}

TEST(ProjectFile, BadRecipesNameTheTableAndKey) {
  for (const char* text : {"[images.a]\nrun = [\"x\"]\n", "[images.a]\nfrom = \"debian\"\n",
                           "[images.a]\nfrom = \"debian\"\nrun = [1]\n",
                           "[images.a]\nfrom = \"d\"\nrun = \"x\"\nevil = 1\n", "images = 3\n"}) {
    auto f = ParseProjectFile(text, "/p");
    ASSERT_FALSE(f.ok()) << text;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
    EXPECT_NE(f.status().message().find("images"), std::string::npos) << f.status().message();
  }
}

TEST(RecipeFile, TopLevelKeys) {
  auto r = ParseRecipeFile("from = \"debian\"\nrun = [\"a\", \"b\"]\n", "r.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->run.size(), 2u);
  auto bad = ParseRecipeFile("from = \"debian\"\nrun = [\"a\"\n", "r.toml");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("r.toml: ", 0), 0u) << bad.status().message();
}

}  // namespace ws::cli
