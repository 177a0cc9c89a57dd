// A tunnel held to the name it was allowed to: TLS by its SNI, HTTP by each
// request's Host, other protocols only off the web ports.
#include "host/net/tunnel_guard.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/openssl_hello.h"

namespace ws::net {
namespace {

using test::OpenSslHello;

struct Fed {
  bool ok = true;
  std::string out;
};

Fed Feed(TunnelGuard& g, const std::string& in, size_t step = 0) {
  Fed f;
  if (step == 0) step = in.size() ? in.size() : 1;
  for (size_t at = 0; at < in.size() && f.ok; at += step) {
    f.ok = g.Feed(std::string_view(in).substr(at, step), &f.out);
  }
  return f;
}

TEST(TunnelGuard, ATlsHelloForTheAllowedNamePassesWhole) {
  const std::string hello = OpenSslHello("Allowed.Test.", {"http/1.1"});
  for (size_t step : {0, 1, 100}) {
    TunnelGuard g("allowed.test", 443);
    Fed f = Feed(g, hello + "after", step);
    ASSERT_TRUE(f.ok) << g.refusal();
    EXPECT_EQ(f.out, hello + "after");
    EXPECT_STREQ(g.kind(), "tls");
    EXPECT_TRUE(Feed(g, "anything at all").ok) << "after the hello the tunnel is opaque";
  }
}

TEST(TunnelGuard, ATlsHelloForAnotherNameOrNoneIsRefusedWithNothingPassed) {
  struct Case {
    std::string host;
    const char* sni;
    const char* why;
  };
  for (const Case& c : {Case{"allowed.test", "other.example", "is not allowed.test"},
                        Case{"allowed.test", "allowed.test.evil.example", "is not allowed.test"},
                        Case{"allowed.test", nullptr, "without a server name"},
                        Case{"198.51.100.10", "other.example", "on a connection to the address"}}) {
    TunnelGuard g(c.host, 443);
    Fed f = Feed(g, OpenSslHello(c.sni, {}), 50);
    EXPECT_FALSE(f.ok) << c.host << " " << (c.sni ? c.sni : "-");
    EXPECT_EQ(f.out, "");
    EXPECT_NE(g.refusal().find(c.why), std::string::npos) << g.refusal();
    EXPECT_EQ(g.reply(), "") << "a TLS client is not answered in HTTP";
  }
  TunnelGuard ip("198.51.100.10", 443);  // control: no SNI to an address is how TLS is
  EXPECT_TRUE(Feed(ip, OpenSslHello(nullptr, {})).ok) << ip.refusal();
}

TEST(TunnelGuard, AMalformedHelloIsRefused) {
  std::string hello = OpenSslHello("allowed.test", {});
  hello[5] = 2;  // a ServerHello, not a ClientHello
  TunnelGuard g("allowed.test", 443);
  Fed f = Feed(g, hello);
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.out, "");
}

TEST(TunnelGuard, EveryHttpRequestMustNameTheAllowedHost) {
  const std::string ok1 = "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n";
  const std::string ok2 = "GET /b HTTP/1.1\r\nhost: ALLOWED.test.:80\r\n\r\n";
  {
    TunnelGuard g("allowed.test", 80);
    Fed f = Feed(g, ok1 + ok2, 3);
    ASSERT_TRUE(f.ok) << g.refusal();
    EXPECT_EQ(f.out, ok1 + "GET /b HTTP/1.1\r\nhost: ALLOWED.test.:80\r\n\r\n");
    EXPECT_STREQ(g.kind(), "http");
  }
  {
    TunnelGuard g("allowed.test", 80);
    Fed f = Feed(g, "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n");
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.out, "");
    EXPECT_NE(g.refusal().find("'other.example' is not allowed.test"), std::string::npos)
        << g.refusal();
    EXPECT_EQ(g.reply().rfind("HTTP/1.1 421 ", 0), 0u) << g.reply();
  }
  {  // the second request of a connection is held to the same host
    TunnelGuard g("allowed.test", 80);
    Fed f = Feed(g, ok1 + "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n");
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.out, ok1);
    EXPECT_EQ(g.reply(), "") << "answers to the first may be on their way: no HTTP reply";
  }
  for (const std::string host : {"allowed.test:8080", "allowed.test.evil.example", "",
                                 "allowed.test@other.example", "198.51.100.10"}) {
    TunnelGuard g("allowed.test", 80);
    EXPECT_FALSE(Feed(g, "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n").ok) << host;
  }
  {  // a kept-alive client of the guest's proxy sends absolute URLs: held to the same host
    TunnelGuard g("allowed.test", 80);
    Fed f = Feed(g, ok1 + "GET http://allowed.test/c HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
    ASSERT_TRUE(f.ok) << g.refusal();
    EXPECT_EQ(f.out, ok1 + "GET /c HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
    TunnelGuard front("allowed.test", 80);
    f = Feed(front, "GET http://other.example/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.out, "");
    EXPECT_NE(front.refusal().find("'other.example' is not allowed.test"), std::string::npos)
        << front.refusal();
  }
  {  // an HTTP/1.0 request without Host is given the allowed one
    TunnelGuard g("allowed.test", 8080);
    Fed f = Feed(g, "GET / HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(f.ok) << g.refusal();
    EXPECT_EQ(f.out, "GET / HTTP/1.0\r\nHost: allowed.test:8080\r\n\r\n");
  }
  {  // an address in another spelling is the same address
    TunnelGuard g("127.1", 80);
    EXPECT_TRUE(Feed(g, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").ok) << g.refusal();
  }
}

TEST(TunnelGuard, AReadOnlyTunnelPassesReadsOnly) {
  const std::string get = "GET /pool/x.deb HTTP/1.1\r\nHost: deb.debian.org\r\n\r\n";
  TunnelGuard g("deb.debian.org", 80, /*read_only=*/true);
  Fed f = Feed(g, get + "HEAD / HTTP/1.1\r\nHost: deb.debian.org\r\n\r\n");
  ASSERT_TRUE(f.ok) << g.refusal();  // control
  for (const char* m : {"PUT", "POST", "DELETE", "PATCH"}) {
    TunnelGuard w("deb.debian.org", 80, true);
    Fed r = Feed(
        w, std::string(m) + " /x HTTP/1.1\r\nHost: deb.debian.org\r\nContent-Length: 0\r\n\r\n");
    EXPECT_FALSE(r.ok) << m;
    EXPECT_EQ(r.out, "") << m;
    EXPECT_NE(w.refusal().find("read-only"), std::string::npos) << w.refusal();
    EXPECT_EQ(w.reply().rfind("HTTP/1.1 403 ", 0), 0u);
  }
  TunnelGuard open("deb.debian.org", 80);  // control: not read-only
  EXPECT_TRUE(
      Feed(open, "PUT /x HTTP/1.1\r\nHost: deb.debian.org\r\nContent-Length: 0\r\n\r\n").ok);
}

TEST(TunnelGuard, OtherProtocolsPassOnlyOffTheWebPorts) {
  const std::string ssh = "SSH-2.0-OpenSSH_9.2\r\n";
  TunnelGuard off("git.test", 22);
  Fed f = Feed(off, ssh, 1);
  ASSERT_TRUE(f.ok) << off.refusal();
  EXPECT_EQ(f.out, ssh);
  EXPECT_STREQ(off.kind(), "other");
  for (uint16_t port : {80, 443}) {
    TunnelGuard web("allowed.test", port);
    Fed w = Feed(web, ssh);
    EXPECT_FALSE(w.ok) << port;
    EXPECT_EQ(w.out, "");
    EXPECT_NE(web.refusal().find("neither TLS nor HTTP"), std::string::npos);
  }
  for (const std::string http : {"\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n",
                                 "get / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"}) {
    TunnelGuard g("allowed.test", 8080);  // HTTP on another port is still HTTP
    Fed h = Feed(g, http);
    EXPECT_FALSE(h.ok) << http;
    EXPECT_EQ(h.out, "") << http;
  }
  TunnelGuard ip("198.51.100.10", 80);
  EXPECT_FALSE(Feed(ip, "GET / HTTP/1.1\r\nHost: 198.51.100.10 evil.test\r\n\r\n").ok);
  TunnelGuard wait("allowed.test", 80);  // a method not yet ended by its space: wait
  Fed w = Feed(wait, "GE");
  EXPECT_TRUE(w.ok);
  EXPECT_EQ(w.out, "");
  EXPECT_STREQ(wait.kind(), "");
}

}  // namespace
}  // namespace ws::net
