// The guest agent's user lookup: /etc/passwd and /etc/group read directly,
// cached until either file changes.
#include "guest-agent/users.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ws::agent {
namespace {

namespace fs = std::filesystem;

class Users : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/users-test-XXXXXX";
    etc_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(etc_); }
  // As useradd and usermod do: a new file renamed over the old one.
  void Replace(const std::string& name, const std::string& text) {
    std::ofstream(etc_ + "/" + name + ".new") << text;
    fs::rename(etc_ + "/" + name + ".new", etc_ + "/" + name);
  }
  std::string etc_;
};

TEST_F(Users, ReadsUsersAndTheirGroups) {
  Replace("passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/bash\n");
  Replace("group", "root:x:0:\nsudo:x:27:user\nuser:x:1000:\n");
  auto u = LookupUser("", etc_);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->name, "user");
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->home, "/home/user");
  EXPECT_EQ(u->shell, "/bin/bash");
  EXPECT_EQ(u->groups, std::vector<gid_t>{27});
  EXPECT_EQ(LookupUser("root", etc_)->uid, 0u);
  EXPECT_EQ(LookupUser("0", etc_)->name, "root");
  auto numeric = LookupUser("1234", etc_);
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(numeric->gid, 1234u);
  EXPECT_EQ(LookupUser("nobody", etc_).status().code(), Code::kNotFound);
}

TEST_F(Users, WithoutAUserNamedUserTheDefaultIsRoot) {
  Replace("passwd", "root:x:0:0:root:/root:/bin/sh\n");
  Replace("group", "root:x:0:\n");
  EXPECT_EQ(LookupUser("", etc_)->name, "root");
}

TEST_F(Users, AChangeToEitherFileIsSeenByTheNextLookup) {
  Replace("passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/bash\n");
  Replace("group", "user:x:1000:\n");
  ASSERT_EQ(LookupUser("", etc_)->home, "/home/user");
  ASSERT_TRUE(LookupUser("", etc_)->groups.empty());

  Replace("passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/srv/user:/bin/bash\n");
  EXPECT_EQ(LookupUser("", etc_)->home, "/srv/user") << "passwd replaced";
  Replace("group", "user:x:1000:\ndocker:x:999:user\n");
  EXPECT_EQ(LookupUser("", etc_)->groups, std::vector<gid_t>{999}) << "group replaced";

  // Edited in place, same size: the inode stays, the times move (tmpfs
  // keeps them at the clock's tick, so let one pass).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    std::fstream f(etc_ + "/passwd", std::ios::in | std::ios::out);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    text.replace(text.find("/srv/user"), 9, "/srv/usex");
    f.seekp(0);
    f << text;
  }
  EXPECT_EQ(LookupUser("", etc_)->home, "/srv/usex") << "passwd edited in place";

  Replace("passwd", "root:x:0:0:root:/root:/bin/sh\n");
  EXPECT_EQ(LookupUser("", etc_)->name, "root") << "user removed";
  EXPECT_EQ(LookupUser("user", etc_).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace ws::agent
