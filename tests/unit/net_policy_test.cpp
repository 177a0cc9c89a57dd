#include <gtest/gtest.h>

#include "host/net/address.h"
#include "host/net/policy.h"

namespace ws::net {
namespace {

AddressClass ClassOf(const char* s) {
  auto a = ParseIpLiteral(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a ? Classify(*a) : AddressClass::kPublic;
}

TEST(Address, LoopbackInEverySpelling) {
  for (const char* s : {"127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1", "0x7f000001",
                        "127.255.255.254", "[::1]", "::1", "[::ffff:127.0.0.1]", "::ffff:7f00:1",
                        "::127.0.0.1", "64:ff9b::7f00:1", "0:0:0:0:0:0:0:1"}) {
    EXPECT_EQ(ClassOf(s), AddressClass::kLoopback) << s;
  }
}

TEST(Address, EveryNonPublicRange) {
  EXPECT_EQ(ClassOf("0.0.0.0"), AddressClass::kUnspecified);
  EXPECT_EQ(ClassOf("0"), AddressClass::kUnspecified);
  EXPECT_EQ(ClassOf("[::]"), AddressClass::kUnspecified);
  EXPECT_EQ(ClassOf("169.254.169.254"), AddressClass::kLinkLocal);
  EXPECT_EQ(ClassOf("fe80::1"), AddressClass::kLinkLocal);
  EXPECT_EQ(ClassOf("fe80::1%eth0"), AddressClass::kLinkLocal);
  EXPECT_EQ(ClassOf("10.1.2.3"), AddressClass::kPrivate);
  EXPECT_EQ(ClassOf("172.16.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(ClassOf("172.31.255.255"), AddressClass::kPrivate);
  EXPECT_EQ(ClassOf("192.168.1.1"), AddressClass::kPrivate);
  EXPECT_EQ(ClassOf("0xa.1"), AddressClass::kPrivate);
  EXPECT_EQ(ClassOf("fc00::1"), AddressClass::kPrivate);
  EXPECT_EQ(ClassOf("fd12:3456::1"), AddressClass::kPrivate);
  EXPECT_EQ(ClassOf("::ffff:10.0.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(ClassOf("100.64.0.1"), AddressClass::kCgnat);
  EXPECT_EQ(ClassOf("100.127.255.255"), AddressClass::kCgnat);
  EXPECT_EQ(ClassOf("224.0.0.1"), AddressClass::kMulticast);
  EXPECT_EQ(ClassOf("ff02::1"), AddressClass::kMulticast);
  EXPECT_EQ(ClassOf("255.255.255.255"), AddressClass::kBroadcast);
  EXPECT_EQ(ClassOf("2002:7f00:1::"), AddressClass::kLoopback) << "6to4 of 127.0.0.1";
}

TEST(Address, PublicAndDocumentationRangesArePublic) {
  for (const char* s : {"8.8.8.8", "172.32.0.1", "100.128.0.1", "203.0.113.7", "198.51.100.10",
                        "192.0.2.1", "2001:db8::1", "2606:4700::1111", "::ffff:8.8.8.8"}) {
    EXPECT_EQ(ClassOf(s), AddressClass::kPublic) << s;
  }
}

TEST(Address, NamesAreNotLiterals) {
  for (const char* s : {"example.org", "localhost", "1.2.3.4.nip.io", "", "[]", "0x7g.1"}) {
    EXPECT_FALSE(ParseIpLiteral(s).has_value()) << s;
  }
}

std::vector<AllowEntry> List(std::vector<std::pair<const char*, const char*>> specs) {
  std::vector<AllowEntry> out;
  for (auto [spec, source] : specs) out.push_back(ParseAllowEntry(spec, source).value());
  return out;
}

TEST(Policy, ExactWildcardAndPorts) {
  auto allow = List(
      {{"registry.npmjs.org", "npm"}, {"*.debian.org", "apt"}, {"api.example.com:8443", "user"}});
  EXPECT_EQ(Decide(allow, "registry.npmjs.org", 443).verdict, Verdict::kAllow);
  EXPECT_EQ(Decide(allow, "REGISTRY.npmjs.org.", 80).verdict, Verdict::kAllow);
  EXPECT_EQ(Decide(allow, "registry.npmjs.org", 22).verdict, Verdict::kDeny);
  EXPECT_EQ(Decide(allow, "deb.debian.org", 443).verdict, Verdict::kAllow);
  EXPECT_EQ(Decide(allow, "a.b.debian.org", 80).verdict, Verdict::kAllow);
  EXPECT_EQ(Decide(allow, "debian.org", 443).verdict, Verdict::kDeny) << "*.x does not match x";
  EXPECT_EQ(Decide(allow, "evildebian.org", 443).verdict, Verdict::kDeny);
  EXPECT_EQ(Decide(allow, "api.example.com", 8443).verdict, Verdict::kAllow);
  EXPECT_EQ(Decide(allow, "api.example.com", 443).verdict, Verdict::kDeny);
  EXPECT_EQ(Decide(allow, "github.com", 443).verdict, Verdict::kDeny);
  EXPECT_NE(Decide(allow, "github.com", 443).reason.find("not on the allowlist"),
            std::string::npos);
}

TEST(Policy, IpLiteralsNeedAnExactEntryInAnySpelling) {
  auto allow = List({{"registry.npmjs.org", "npm"}});
  for (const char* s :
       {"127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1", "[::1]", "[::ffff:127.0.0.1]",
        "0.0.0.0", "[::]", "169.254.169.254", "203.0.113.5"}) {
    EXPECT_EQ(Decide(allow, s, 443).verdict, Verdict::kDeny) << s;
  }
  auto with_ip = List({{"127.0.0.1:8080", "user"}});
  EXPECT_EQ(Decide(with_ip, "127.1", 8080).verdict, Verdict::kAllow)
      << "same address, other spelling";
  EXPECT_EQ(Decide(with_ip, "127.0.0.1", 8081).verdict, Verdict::kDeny);
}

TEST(Policy, NamesResolvingToInternalAddressesNeedAnExplicitUserEntry) {
  auto ip = [](const char* s) { return *ParseIpLiteral(s); };
  auto defaults = List({{"registry.npmjs.org", "npm"}, {"*.corp.example", "user"}});
  auto d = Decide(defaults, "registry.npmjs.org", 443);
  EXPECT_EQ(CheckResolved(d, ip("104.16.0.1")).verdict, Verdict::kAllow);
  EXPECT_EQ(CheckResolved(d, ip("203.0.113.9")).verdict, Verdict::kAllow) << "documentation range";
  EXPECT_EQ(CheckResolved(d, ip("127.0.0.1")).verdict, Verdict::kDeny)
      << "DNS rebinding to loopback";
  EXPECT_EQ(CheckResolved(d, ip("::ffff:10.0.0.1")).verdict, Verdict::kDeny);
  auto wild = Decide(defaults, "git.corp.example", 443);
  EXPECT_EQ(CheckResolved(wild, ip("10.0.0.5")).verdict, Verdict::kDeny)
      << "wildcards are not explicit";
  auto user = List({{"git.corp.example", "user"}});
  EXPECT_EQ(CheckResolved(Decide(user, "git.corp.example", 443), ip("10.0.0.5")).verdict,
            Verdict::kAllow);
}

TEST(Policy, ParsesAndRefusesEntries) {
  EXPECT_EQ(ParseAllowEntry("[::1]:8080", "user")->ToString(), "[::1]:8080");
  EXPECT_EQ(ParseAllowEntry("Example.COM", "user")->host, "example.com");
  EXPECT_EQ(ParseAllowEntry("0x7f.1:80", "user")->host, "127.0.0.1");
  EXPECT_EQ(ParseAllowEntry("example.com.", "user")->host, "example.com") << "the root label";
  // Found by fuzz_metadata: "a.b.." became "a.b.", which parsed again to "a.b".
  for (const char* bad : {"", "a b", "host:0", "host:65536", "host:x", "*.", "[::1", "a..b",
                          "http://x", "a.b..", "*.a..", "."}) {
    EXPECT_FALSE(ParseAllowEntry(bad, "user").ok()) << bad;
  }
}

}  // namespace
}  // namespace ws::net
