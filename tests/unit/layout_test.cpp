#include "host/store/layout.h"

#include <gtest/gtest.h>

namespace ws::store {

TEST(Layout, ShortStateDirKeepsTheEmbeddedRootInside) {
  Layout l("/var/lib/workspace");
  EXPECT_EQ(l.EmbedRoot(), "/var/lib/workspace/libvirt");
  EXPECT_FALSE(l.EmbedRootIsLink());
  EXPECT_TRUE(CheckSocketBudget(l).ok());
}

TEST(Layout, LongStateDirGetsAShortStableEmbeddedRoot) {
  std::string dir = "/tmp/" + std::string(55, 'd');  // 60 characters
  Layout a(dir), b(dir), other(dir + "x");
  EXPECT_TRUE(a.EmbedRootIsLink());
  EXPECT_LE(a.EmbedRoot().size(), kMaxEmbedRoot);
  EXPECT_EQ(a.EmbedRoot(), b.EmbedRoot());
  EXPECT_NE(a.EmbedRoot(), other.EmbedRoot());
  EXPECT_TRUE(CheckSocketBudget(a).ok());
}

TEST(Layout, AgentSocketIsShortWhateverTheName) {
  std::string dir = "/tmp/" + std::string(55, 'd');
  Layout l(dir);
  std::string sock = l.AgentSocket("0123abcd-4567-89ef-0123-456789abcdef");
  EXPECT_EQ(sock, dir + "/run/0123abcd4567.sock");
  EXPECT_LE(sock.size(), kMaxSocketPath);
}

TEST(Layout, StateDirTooLongForSocketsIsRefusedWithTheLimit) {
  Layout l("/" + std::string(90, 'x'));
  Status s = CheckSocketBudget(l);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("at most 85 characters"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckSocketBudget(Layout("/" + std::string(84, 'x'))).ok());
}

TEST(Layout, NormalizeDirMakesAbsoluteCleanPaths) {
  EXPECT_EQ(NormalizeDir("/a/b/../c/"), "/a/c");
  EXPECT_EQ(NormalizeDir("/"), "/");
  EXPECT_EQ(NormalizeDir("rel").front(), '/');
}

}  // namespace ws::store
