#include "host/common/names.h"

#include <gtest/gtest.h>

#include <vector>

namespace ws {

TEST(Names, AcceptsLowercaseDigitsAndPunctuationAfterFirst) {
  EXPECT_TRUE(ValidateName("demo").ok());
  EXPECT_TRUE(ValidateName("0day").ok());
  EXPECT_TRUE(ValidateName("my-proj_2.x").ok());
  EXPECT_TRUE(ValidateName(std::string(63, 'a')).ok());
}

TEST(Names, RefusesEverythingElseWithAnInvalidArgument) {
  for (std::string bad : {"", "Bad", "Bad/Name", "-lead", ".hidden", "_x", "a b", "a/b", "..",
                          "ümlaut", "a\nb", "a:b"}) {
    Status s = ValidateName(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("a-z"), std::string::npos) << "message says what is allowed";
  }
  EXPECT_EQ(ValidateName(std::string(64, 'a')).code(), Code::kInvalidArgument);
}

TEST(Names, FolderNamesBecomeValidNames) {
  EXPECT_EQ(NameFromFolder("demo"), "demo");
  EXPECT_EQ(NameFromFolder("My Project!"), "my-project");
  EXPECT_EQ(NameFromFolder("--x--"), "x");
  EXPECT_EQ(NameFromFolder("!!!"), "workspace");
  EXPECT_EQ(NameFromFolder(""), "workspace");
  EXPECT_EQ(NameFromFolder(std::string(80, 'b')).size(), 63u);
  for (std::string f :
       std::vector<std::string>{"A", "éé", "a..b", "x y z", std::string(90, '-') + "q"}) {
    EXPECT_TRUE(ValidateName(NameFromFolder(f)).ok()) << f;
  }
}

}  // namespace ws
