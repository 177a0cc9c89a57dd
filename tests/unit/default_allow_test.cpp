#include "host/cli/default_allow.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace ws::cli {
namespace {

namespace fs = std::filesystem;

// create runs in the shared folder; the guest can write a project .npmrc
// there. The default allowlist comes from the host's own config only.
TEST(DefaultAllow, AProjectsNpmrcInTheCurrentFolderIsNotRead) {
  if (system("command -v npm >/dev/null 2>&1") != 0) GTEST_SKIP() << "no npm on this host";
  char t[] = "/tmp/ws-default-allow-XXXXXX";
  const std::string dir = mkdtemp(t);
  std::ofstream(dir + "/package.json") << "{\"name\":\"x\"}";
  std::ofstream(dir + "/.npmrc") << "registry=https://guest-chose.example/\n";
  const fs::path before = fs::current_path();
  fs::current_path(dir);
  // Positive control: npm run from this folder does take the project's file.
  std::string seen;
  if (FILE* p = popen("npm config get registry 2>/dev/null", "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p)) seen += buf;
    pclose(p);
  }
  const auto allow = DefaultAllowlist();
  fs::current_path(before);
  fs::remove_all(dir);
  EXPECT_NE(seen.find("guest-chose.example"), std::string::npos) << "npm reads a project .npmrc: " << seen;
  for (const auto& a : allow) EXPECT_NE(a.host, "guest-chose.example") << "taken from the shared folder";
}

}  // namespace
}  // namespace ws::cli
