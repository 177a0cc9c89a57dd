#include "host/shares/share_spec.h"

#include <gtest/gtest.h>

namespace ws::shares {

TEST(ShareSpec, ParsesHostGuestAndMode) {
  auto a = ParseShareSpec("/home/u/p");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host_path, "/home/u/p");
  EXPECT_EQ(a->guest_path, "/home/u/p") << "guest path defaults to the host path";
  EXPECT_FALSE(a->read_only);
  auto b = ParseShareSpec("/data/:/mnt/data:ro");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host_path, "/data");
  EXPECT_EQ(b->guest_path, "/mnt/data");
  EXPECT_TRUE(b->read_only);
  auto c = ParseShareSpec("/x:ro");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->guest_path, "/x");
  EXPECT_TRUE(c->read_only);
  EXPECT_FALSE(ParseShareSpec("/x:/y:rw")->read_only);
}

TEST(ShareSpec, RefusesMalformedSpecs) {
  for (const char* bad : {"", ":ro", "rel/path", "/a:rel", "/a:/b:/c", "/a:/", "/a:/proc/x",
                          "/a:/dev", "/a:/sys", "/a:/b,c"}) {
    EXPECT_EQ(ParseShareSpec(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ShareSpec, SetRefusesDuplicateAndNestedGuestPaths) {
  ShareSpec a{"/h1", "/workspace", false, {}, {}, {}}, b{"/h2", "/workspace", true, {}, {}, {}},
      c{"/h3", "/workspace/sub", false, {}, {}, {}}, d{"/h4", "/data", false, {}, {}, {}};
  EXPECT_TRUE(CheckShareSet({a, d}).ok());
  EXPECT_FALSE(CheckShareSet({a, b}).ok());
  EXPECT_FALSE(CheckShareSet({a, c}).ok());
  EXPECT_TRUE(CheckShareSet({}).ok());
}

TEST(ShareSpec, SetRefusesShowNamesAndPathsThatCouldInjectLines) {
  EXPECT_TRUE(CheckShareSet({{"/h", "/w", false, {".env", ".env.local"}, {}, {}}}).ok());
  EXPECT_TRUE(CheckShareSet({{"/h", "/w", false, {"packages/app/.env"}, {}, {}}}).ok())
      << "a path below the top";
  for (const std::string& bad :
       {std::string("x\nhost=/root\nowner_uid=0"), std::string("a/../b"), std::string(".."),
        std::string(""), std::string("a\rb"), std::string(2000, 'a')}) {
    EXPECT_EQ(CheckShareSet({{"/h", "/w", false, {bad}, {}, {}}}).code(), Code::kInvalidArgument)
        << bad;
  }
  EXPECT_FALSE(CheckShareSet({{"/h\nowner_uid=0", "/w", false, {}, {}, {}}}).ok());
  EXPECT_TRUE(CheckShareSet({{"/h", "/w", false, {}, {".vscode", "tools/hooks"}, {}}}).ok());
  for (const std::string& bad :
       {std::string("/abs"), std::string("a/../b"), std::string("a//b"), std::string("a/"),
        std::string("x\nprotect=.git"), std::string("")}) {
    EXPECT_EQ(CheckShareSet({{"/h", "/w", false, {}, {bad}, {}}}).code(), Code::kInvalidArgument)
        << bad;
    EXPECT_EQ(CheckShareSet({{"/h", "/w", false, {}, {}, {bad}}}).code(), Code::kInvalidArgument)
        << bad;
  }
}

TEST(ShareSpec, PathWithinIsComponentWise) {
  EXPECT_TRUE(PathWithin("/a/b", "/a"));
  EXPECT_TRUE(PathWithin("/a", "/a"));
  EXPECT_FALSE(PathWithin("/ab", "/a"));
  EXPECT_TRUE(PathWithin("/x", "/"));
}

}  // namespace ws::shares
