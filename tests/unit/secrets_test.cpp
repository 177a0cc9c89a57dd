// Secrets at every depth of a share, and config files given without their
// credentials.
#include "host/shares/secrets.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ws::shares {
namespace {

namespace fs = std::filesystem;

class SecretScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ws-secrets-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(dir_ + "/" + rel).parent_path());
    std::ofstream(dir_ + "/" + rel) << text;
  }
  SecretScan Scan(const std::vector<std::string>& shown = {}) {
    int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    auto s = ScanSecrets(fd, dir_, shown);
    close(fd);
    return s;
  }
  static std::vector<std::string> Paths(const SecretScan& s) {
    std::vector<std::string> out;
    for (const auto& f : s.found) out.push_back(f.path);
    return out;
  }
  std::string dir_;
};

TEST_F(SecretScanTest, FindsSecretsAtEveryDepthNodeModulesIncludedButNotExamples) {
  Write(".env", "TOKEN=1\n");
  Write("packages/app/.env", "TOKEN=2\n");
  Write("packages/app/.envrc", "export GITHUB_TOKEN=3\n");
  Write("packages/app/.env.example", "TOKEN=\n");
  Write("deploy/terraform.tfvars", "key = 4\n");
  Write("worker/.dev.vars", "K=5\n");
  Write("home/.docker/config.json", "{\"auths\":{}}\n");
  Write("home/.kube/config", "users: []\n");
  Write("home/.ssh/id_ed25519", "x");
  Write("certs/server.pem", "-----BEGIN CERTIFICATE-----\n");  // a certificate: public
  Write("certs/server.key.pem", "-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n");
  Write("keys/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n");
  Write("keys/id_rsa.pub", "ssh-rsa AAAA\n");
  Write("src/id_utils.py", "def f(): pass\n");
  Write("node_modules/pkg/.env", "TOKEN=6\n");  // moved there by the guest, say
  Write("node_modules/pkg/id_rsa",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n");  // by name only there: not read
  Write(".git/x/.env", "TOKEN=7\n");
  auto scan = Scan();
  EXPECT_EQ(Paths(scan),
            (std::vector<std::string>{".env", "certs/server.key.pem", "deploy/terraform.tfvars",
                                      "home/.docker/config.json", "home/.kube/config", "home/.ssh",
                                      "keys/id_rsa", "node_modules/pkg/.env", "packages/app/.env",
                                      "packages/app/.envrc", "worker/.dev.vars"}));
  EXPECT_FALSE(scan.cut);
  for (const auto& f : scan.found) EXPECT_EQ(f.directory, f.path == "home/.ssh") << f.path;
}

TEST_F(SecretScanTest, ShownPathsStayAndSymlinkedSecretsCoverTheirTarget) {
  Write(".env", "TOKEN=1\n");
  Write("packages/app/.env", "TOKEN=2\n");
  Write("config/prod.secrets", "TOKEN=3\n");
  fs::create_symlink("config/prod.secrets", dir_ + "/packages/.env");
  fs::create_symlink("../../outside",
                     dir_ + "/config/.env");  // leaves the share: the guest's own path
  fs::create_symlink("/etc/passwd", dir_ + "/config/.env.local");  // not this share's
  auto scan = Scan({"packages/app/.env"});
  EXPECT_EQ(Paths(scan), std::vector<std::string>{".env"})
      << "a relative link resolves from its own folder (packages/config/prod.secrets: none)";
  fs::remove(dir_ + "/packages/.env");
  fs::create_symlink("../config/prod.secrets", dir_ + "/packages/.env");
  scan = Scan({".env", "packages/app/.env"});
  ASSERT_EQ(Paths(scan), std::vector<std::string>{"config/prod.secrets"});
  EXPECT_EQ(scan.found[0].via, "packages/.env");
}

TEST_F(SecretScanTest, AbsoluteLinksIntoTheShareAndSecretFoldersBehindLinksAreCovered) {
  Write("secrets/prod.env", "TOKEN=1\n");
  Write("config/aws/credentials", "[default]\n");
  fs::create_symlink(dir_ + "/secrets/prod.env", dir_ + "/.env");
  fs::create_symlink("config/aws", dir_ + "/.aws");
  auto scan = Scan();
  ASSERT_EQ(Paths(scan), (std::vector<std::string>{"config/aws", "secrets/prod.env"}));
  EXPECT_TRUE(scan.found[0].directory);
  EXPECT_EQ(scan.found[1].via, ".env");
}

TEST_F(SecretScanTest, EveryGitConfigLosesItsCredentialsNestedRepositoriesAndModulesToo) {
  const std::string token = "[remote \"o\"]\n\turl = https://u:TOKEN@host/r.git\n";
  Write(".git/config", token);
  Write("clones/other/.git/config", token);
  Write(".git/modules/vendor/lib/config", token);
  Write(".git/modules/vendor/lib/modules/deep/config", token);
  Write(".git/modules/plain/config", "[core]\n\tbare = false\n");
  auto scan = Scan();
  EXPECT_EQ(Paths(scan), (std::vector<std::string>{".git/config", ".git/modules/vendor/lib/config",
                                                   ".git/modules/vendor/lib/modules/deep/config",
                                                   "clones/other/.git/config"}));
  for (const auto& f : scan.found) {
    EXPECT_EQ(f.action, SecretAction::kStrip) << f.path;
    EXPECT_EQ(f.stripped.find("TOKEN"), std::string::npos) << f.path;
  }
}

TEST_F(SecretScanTest, WhatCannotBeLookedIntoIsCoveredNotLeft) {
  Write("ok/.env", "TOKEN=1\n");
  Write("locked/.env", "TOKEN=2\n");
  Write("locked/sub/.env", "TOKEN=3\n");
  chmod((dir_ + "/locked").c_str(), 0);
  // As root the folder is read all the same; as another user it is not.
  if (geteuid() == 0) {
    std::string deep;
    for (int i = 0; i < kMaxScanDepth + 2; ++i) deep += "d/";
    Write(deep + ".env", "TOKEN=4\n");
    auto scan = Scan();
    bool covered_deep = false;
    for (const auto& f : scan.found) {
      covered_deep |= f.directory && f.path.size() / 2 == static_cast<size_t>(kMaxScanDepth) - 1;
      EXPECT_NE(f.path, deep + ".env") << "below a cover: not listed";
    }
    EXPECT_TRUE(covered_deep) << "the folder past the depth bound is covered";
    EXPECT_TRUE(scan.cut);
  }
  chmod((dir_ + "/locked").c_str(), 0755);
}

TEST_F(SecretScanTest, ManyNamesForOneFileCountOnceAndTooManySecretsRefuseTheStart) {
  Write("x", "TOKEN=1\n");
  Write("backend/.env", "TOKEN=2\n");
  for (int i = 0; i <= static_cast<int>(kMaxSecretMasks); ++i) {
    fs::create_symlink("x", dir_ + "/.env." + std::to_string(i));
  }
  auto scan = Scan();
  EXPECT_EQ(scan.refusal, "");
  EXPECT_EQ(Paths(scan), (std::vector<std::string>{"backend/.env", "x"}))
      << "the rest of the tree is still scanned";
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  for (int i = 0; i <= static_cast<int>(kMaxSecretMasks); ++i)
    Write(".env." + std::to_string(i), "T\n");
  scan = Scan();
  EXPECT_NE(scan.refusal.find("more than 10000 secrets"), std::string::npos) << scan.refusal;
}

TEST_F(SecretScanTest, ANetrcIsHiddenWholeAndHidingWinsOverStripping) {
  Write(".netrc", "machine github.com login ghp_TOKEN\n");
  Write("conf/npmrc", "ignore-scripts=true\n_authToken=SECRET\n");
  fs::create_symlink("conf/npmrc", dir_ + "/.npmrc");
  fs::create_symlink("conf/npmrc", dir_ + "/.env");  // the same file by a name that hides it
  auto scan = Scan();
  ASSERT_EQ(Paths(scan), (std::vector<std::string>{".netrc", "conf/npmrc"}));
  EXPECT_EQ(scan.found[0].action, SecretAction::kHide);
  EXPECT_EQ(scan.found[1].action, SecretAction::kHide);
}

TEST_F(SecretScanTest, ConfigFilesLoseOnlyTheirCredentials) {
  Write(".npmrc",
        "package-lock=false\nignore-scripts=true\n//registry.npmjs.org/:_authToken=npm_SECRET\n"
        "_auth=U0VDUkVU\nregistry=https://user:pass@registry.example/\n");
  Write("lib/.npmrc", "ignore-scripts=true\n");  // no credential: left as it is
  Write(".git-credentials", "https://u:ghp_SECRET@github.com\n");
  auto scan = Scan();
  ASSERT_EQ(Paths(scan), (std::vector<std::string>{".git-credentials", ".npmrc"}));
  EXPECT_EQ(scan.found[0].action, SecretAction::kHide) << "nothing in it but credentials";
  ASSERT_EQ(scan.found[1].action, SecretAction::kStrip);
  EXPECT_EQ(scan.found[1].stripped,
            "package-lock=false\nignore-scripts=true\nregistry=https://registry.example/\n");
}

TEST(Secrets, StrippingKeepsSettingsAndDropsCredentials) {
  EXPECT_EQ(StripCredentials(".pypirc", "[pypi]\nusername = __token__\npassword = pypi-SECRET\n"),
            "[pypi]\nusername = __token__\n");
  EXPECT_EQ(StripCredentials(".pypirc", "[pypi]\npassword: pypi-SECRET\n"), "[pypi]\n")
      << "configparser's ':'";
  EXPECT_EQ(StripCredentials(".yarnrc",
                             "\"//registry.example/:_authToken\" SECRET\nnetwork-timeout 60000\n"),
            "network-timeout 60000\n")
      << "yarn 1's quoted keys";
  EXPECT_FALSE(StripsCredentials(".netrc")) << "hidden whole: a token may be its login";
  EXPECT_EQ(
      StripCredentials(".yarnrc.yml",
                       "nodeLinker: node-modules\nnpmScopes:\n  corp:\n    npmAuthToken: SECRET\n"),
      "nodeLinker: node-modules\nnpmScopes:\n  corp:\n");
  EXPECT_EQ(
      StripCredentials("pip.conf", "[global]\nindex-url = https://u:SECRET@pypi.corp/simple\n"),
      "[global]\nindex-url = https://pypi.corp/simple\n");
  EXPECT_EQ(StripCredentials(".npmrc", "ignore-scripts=true"), "ignore-scripts=true")
      << "no newline at the end";
}

TEST(Secrets, GitConfigLosesUrlCredentialsAndExtraHeaders) {
  const std::string config =
      "[remote \"origin\"]\n\turl = https://x-access-token:ghp_SECRET@github.com/o/r.git\n"
      "[remote \"other\"]\n\turl = https://ghp_SECRET2@github.com/o/r.git\n"
      "[remote \"ssh\"]\n\turl = ssh://git@github.com/o/r.git\n"
      "[http \"https://github.com/\"]\n\textraHeader = AUTHORIZATION: basic SECRET3\n"
      "[http]\n\textraheader = Authorization: Bearer SECRET4\n[core]\n\tbare = false\n"
      "[credential]\n\thelper = !f() { echo password=SECRET5; }; f\n\thelper = store\n"
      "[sendemail]\n\tsmtpPass = SECRET6\n";
  const std::string s = StripGitConfig(config);
  EXPECT_EQ(s.find("SECRET"), std::string::npos) << s;
  EXPECT_NE(s.find("url = https://github.com/o/r.git"), std::string::npos) << s;
  EXPECT_NE(s.find("url = ssh://git@github.com/o/r.git"), std::string::npos)
      << "an ssh user is no secret: " << s;
  EXPECT_NE(s.find("bare = false"), std::string::npos) << s;
  EXPECT_NE(s.find("helper = store"), std::string::npos) << "a named helper holds no secret: " << s;
  EXPECT_EQ(StripGitConfig("[core]\n\tbare = false\n"), "[core]\n\tbare = false\n");
}

}  // namespace
}  // namespace ws::shares
