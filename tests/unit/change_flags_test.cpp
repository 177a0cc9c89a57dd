#include "host/tripwire/change_flags.h"

#include <gtest/gtest.h>

namespace ws::tripwire {
namespace {

using V = std::vector<std::string>;

TEST(ChangeFlags, WhatRunsOrEscalatesComesFirst) {
  EXPECT_EQ(ChangeFlags("/usr/local/bin/x", 0104755), (V{"setuid", "on-path", "executable"}));
  EXPECT_EQ(ChangeFlags("/opt/tool/helper", 0102711), (V{"setgid", "executable"}));
  EXPECT_EQ(ChangeFlags("/home/user/.bashrc", 0100644), (V{"runs-at-login"}));
  EXPECT_EQ(ChangeFlags("/root/.profile", 0100644), (V{"runs-at-login"}));
  EXPECT_EQ(ChangeFlags("/etc/profile.d/evil.sh", 0100644), (V{"runs-at-login"}));
  EXPECT_EQ(ChangeFlags("/etc/ld.so.preload", 0100644), (V{"runs-at-login"}));
  EXPECT_EQ(ChangeFlags("/etc/systemd/system/evil.service", 0100644), (V{"runs-at-boot"}));
  EXPECT_EQ(ChangeFlags("/home/user/.config/systemd/user/x.service", 0100644), (V{"runs-at-boot"}));
  EXPECT_EQ(ChangeFlags("/etc/cron.d/job", 0100644), (V{"scheduled"}));
  EXPECT_EQ(ChangeFlags("/var/spool/cron/crontabs/user", 0100600), (V{"scheduled"}));
  EXPECT_EQ(ChangeFlags("/work/app/.git/hooks/pre-commit", 0100755), (V{"git-hook", "executable"}));
  EXPECT_EQ(ChangeFlags("/home/user/.gitconfig", 0100644), (V{"git-hook"}));
  EXPECT_EQ(ChangeFlags("/home/user/.ssh/authorized_keys", 0100600), (V{"account"}));
  EXPECT_EQ(ChangeFlags("/etc/sudoers.d/90-evil", 0100440), (V{"account"}));
  EXPECT_EQ(ChangeFlags("/home/user/.local/bin/node", 0100755), (V{"on-path", "executable"}));
  EXPECT_LT(FlagRank(ChangeFlags("/usr/local/bin/x", 0104755)),
            FlagRank(ChangeFlags("/home/user/.bashrc", 0100644)));
  EXPECT_LT(FlagRank(ChangeFlags("/home/user/.bashrc", 0100644)),
            FlagRank(ChangeFlags("/tmp/a.out", 0100755)));
}

TEST(ChangeFlags, PlainFilesAndNearMissesHaveNone) {
  EXPECT_TRUE(ChangeFlags("/home/user/notes.txt", 0100644).empty());
  EXPECT_TRUE(ChangeFlags("/home/user/.bashrc.bak", 0100644).empty());
  EXPECT_TRUE(ChangeFlags("/etc/profile.dx", 0100644).empty());
  EXPECT_TRUE(ChangeFlags("/usr/local/bin/sub/deep", 0100644).empty()) << "not on PATH";
  EXPECT_EQ(ChangeFlags("/usr/local/bin", 040755), V{}) << "the folder itself";
  // setuid counts on regular files only (a folder's bits mean other things).
  EXPECT_TRUE(ChangeFlags("/srv/shared", 042775).empty());
  EXPECT_EQ(FlagRank({}), 9);
}

}  // namespace
}  // namespace ws::tripwire
