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

// The default allowlist is the same on every host: a host whose npm and pip
// name a registry (or a project .npmrc in the folder create runs in, which
// the guest may have written) adds nothing. Installs go through the
// registry endpoints instead.
TEST(DefaultAllow, DoesNotDependOnTheHostsNpmOrPip) {
  char t[] = "/tmp/ws-default-allow-XXXXXX";
  const std::string dir = mkdtemp(t);
  for (const char* tool : {"npm", "pip3", "pip"}) {
    const std::string p = dir + "/" + tool;
    std::ofstream(p) << "#!/bin/sh\necho https://" << tool << "-registry.example/\n";
    fs::permissions(p, fs::perms::owner_all);
  }
  std::ofstream(dir + "/.npmrc") << "registry=https://guest-chose.example/\n";
  const std::string old_path = getenv("PATH") ? getenv("PATH") : "";
  setenv("PATH", (dir + ":" + old_path).c_str(), 1);
  const fs::path before = fs::current_path();
  fs::current_path(dir);
  // Positive control: the host's tools answer with a registry.
  std::string seen;
  if (FILE* p = popen("npm config get registry; pip3 config get global.index-url", "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p)) seen += buf;
    pclose(p);
  }
  const auto allow = DefaultAllowlist();
  fs::current_path(before);
  setenv("PATH", old_path.c_str(), 1);
  fs::remove_all(dir);
  EXPECT_NE(seen.find("npm-registry.example"), std::string::npos) << seen;
  EXPECT_NE(seen.find("pip3-registry.example"), std::string::npos) << seen;
  for (const auto& a : allow) {
    EXPECT_EQ(a.host.find("registry.example"), std::string::npos) << a.host;
    EXPECT_NE(a.host, "guest-chose.example");
    EXPECT_EQ(a.source, "ai-apis") << a.host;
  }
}

}  // namespace
}  // namespace ws::cli
