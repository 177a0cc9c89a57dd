#include "host/controller/member_policy.h"

#include <gtest/gtest.h>

namespace ws::controller {
namespace {

net::AllowEntry Entry(const std::string& spec) {
  auto e = net::ParseAllowEntry(spec, "user");
  EXPECT_TRUE(e.ok()) << spec;
  return e.value();
}

TEST(MemberPolicy, DefaultsAreSafeAndTheConfigIsStrict) {
  auto empty = ParseMemberPolicy("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->allow_low_ports);
  EXPECT_FALSE(empty->allow_private_hosts);
  auto both = ParseMemberPolicy("[members]\nallow_low_ports = true\nallow_private_hosts = true\n");
  ASSERT_TRUE(both.ok()) << both.status().message();
  EXPECT_TRUE(both->allow_low_ports);
  EXPECT_TRUE(both->allow_private_hosts);
  EXPECT_FALSE(ParseMemberPolicy("[members]\nallow_low_port = true\n").ok())
      << "a typo is not ignored";
  EXPECT_FALSE(ParseMemberPolicy("[members]\nallow_low_ports = \"yes\"\n").ok());
  EXPECT_FALSE(ParseMemberPolicy("members = 1\n").ok());
  EXPECT_FALSE(ParseMemberPolicy("[members\n").ok());
  EXPECT_FALSE(LoadMemberPolicy("/nonexistent/daemon.toml").allow_private_hosts);
}

TEST(MemberPolicy, MembersGetNoLowPortsAndNoPrivateTargetsUnlessAllowed) {
  MemberPolicy safe, open{true, true};
  const uid_t member = 1000;
  EXPECT_FALSE(CheckHostPort(safe, member, 80).ok());
  EXPECT_FALSE(CheckHostPort(safe, member, 1023).ok());
  EXPECT_TRUE(CheckHostPort(safe, member, 1024).ok());
  EXPECT_TRUE(CheckHostPort(safe, member, 0).ok()) << "any free port";
  EXPECT_TRUE(CheckHostPort(safe, 0, 80).ok()) << "root";
  EXPECT_TRUE(CheckHostPort(open, member, 80).ok());
  for (const char* spec : {"127.0.0.1:8080", "127.1", "10.0.0.1", "192.168.1.1", "169.254.169.254",
                           "[::1]:80", "[fe80::1]", "0.0.0.0", "localhost", "a.localhost:99"}) {
    Status s = CheckAllowEntry(safe, member, Entry(spec));
    EXPECT_FALSE(s.ok()) << spec;
    EXPECT_NE(s.message().find("daemon.toml"), std::string::npos) << s.message();
    EXPECT_TRUE(CheckAllowEntry(safe, 0, Entry(spec)).ok()) << spec;
    EXPECT_TRUE(CheckAllowEntry(open, member, Entry(spec)).ok()) << spec;
  }
  EXPECT_TRUE(CheckAllowEntry(safe, member, Entry("registry.npmjs.org")).ok());
  EXPECT_TRUE(CheckAllowEntry(safe, member, Entry("93.184.216.34:443")).ok());
}

TEST(MemberPolicy, OnlyTheDaemonsLabels) {
  EXPECT_TRUE(IsKnownAllowSource("user"));
  EXPECT_TRUE(IsKnownAllowSource("npm"));
  EXPECT_FALSE(IsKnownAllowSource("npm\n{\"decision\":\"allow\"}"));
  EXPECT_FALSE(IsKnownAllowSource(""));
  EXPECT_FALSE(IsKnownAllowSource("root"));
}

}  // namespace
}  // namespace ws::controller
