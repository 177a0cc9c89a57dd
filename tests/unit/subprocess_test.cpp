#include "host/common/subprocess.h"

#include <gtest/gtest.h>

namespace ws {

TEST(RunCommand, ReturnsOutputAndStreamsLines) {
  std::vector<std::string> lines;
  auto r = RunCommand({"sh", "-c", "echo one; echo two >&2; printf three"},
                      [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value(), "one\ntwo\nthree");
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(RunCommand, FailureNamesTheProgramStatusAndLastLines) {
  auto silent = RunCommand({"sh", "-c", "exit 3"});
  ASSERT_FALSE(silent.ok());
  EXPECT_EQ(silent.status().message(), "sh exited with status 3");
  auto chatty = RunCommand({"sh", "-c", "printf 'a\\nb\\nc\\nd\\n\\n'; exit 1"});
  ASSERT_FALSE(chatty.ok());
  EXPECT_EQ(chatty.status().message(), "sh exited with status 1: b c d")
      << "one line, the last three";
  auto missing = RunCommand({"/nonexistent/tool"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot run /nonexistent/tool"), std::string::npos);
}

}  // namespace ws
