// ClientHello parsing against hellos OpenSSL's own client writes.
#include "host/net/client_hello.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/openssl_hello.h"

namespace ws::net {
namespace {

using test::OpenSslHello;

uint16_t Get16(const std::string& s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) << 8 | static_cast<uint8_t>(s[at + 1]));
}
void Put16(std::string& s, size_t at, size_t v) {
  s[at] = static_cast<char>(v >> 8);
  s[at + 1] = static_cast<char>(v & 0xff);
}

// `hello` (one record) with one more extension at the end of its list.
std::string WithExtension(std::string hello, uint16_t type, const std::string& data) {
  size_t at = 5 + 4 + 2 + 32;                 // record, handshake, version, random
  at += 1 + static_cast<uint8_t>(hello[at]);  // session id
  at += 2 + Get16(hello, at);                 // cipher suites
  at += 1 + static_cast<uint8_t>(hello[at]);  // compression methods
  const size_t ext_len_at = at;
  std::string ext;
  ext += static_cast<char>(type >> 8);
  ext += static_cast<char>(type & 0xff);
  ext += static_cast<char>(data.size() >> 8);
  ext += static_cast<char>(data.size() & 0xff);
  ext += data;
  hello += ext;
  Put16(hello, ext_len_at, Get16(hello, ext_len_at) + ext.size());
  Put16(hello, 3, Get16(hello, 3) + ext.size());  // record length
  const size_t body =
      (static_cast<size_t>(static_cast<uint8_t>(hello[6])) << 16 | Get16(hello, 7)) +
      ext.size();  // handshake length
  hello[6] = static_cast<char>(body >> 16);
  Put16(hello, 7, body & 0xffff);
  return hello;
}

std::string WithSecondServerName(const std::string& hello, const std::string& name) {
  std::string entry = std::string("\0", 1);
  entry += static_cast<char>(name.size() >> 8);
  entry += static_cast<char>(name.size() & 0xff);
  entry += name;
  std::string list;
  list += static_cast<char>(entry.size() >> 8);
  list += static_cast<char>(entry.size() & 0xff);
  return WithExtension(hello, 0, list + entry);
}

TEST(ClientHello, ReadsTheServerNameAndProtocolsAnOpenSslClientSends) {
  const std::string hello = OpenSslHello("api.example.com", {"h2", "http/1.1"});
  ASSERT_GT(hello.size(), 100u);
  ClientHello h;
  ASSERT_EQ(ParseClientHello(hello, &h), HelloStatus::kComplete);
  EXPECT_TRUE(h.has_sni);
  EXPECT_EQ(h.server_name, "api.example.com");
  EXPECT_EQ(h.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(h.consumed, hello.size());
  // Bytes after the hello (the client's next flight) are not read.
  ASSERT_EQ(ParseClientHello(hello + "more", &h), HelloStatus::kComplete);
  EXPECT_EQ(h.consumed, hello.size());

  ASSERT_EQ(ParseClientHello(OpenSslHello(nullptr, {}), &h), HelloStatus::kComplete);
  EXPECT_FALSE(h.has_sni);  // a hello without SNI says so (the relay refuses it to a name)
  EXPECT_TRUE(h.alpn.empty());
}

TEST(ClientHello, EveryPrefixAsksForMoreAndARecordSplitStillParses) {
  const std::string hello = OpenSslHello("front.example", {});
  ClientHello h;
  for (size_t n = 0; n < hello.size(); ++n) {
    ASSERT_EQ(ParseClientHello(hello.substr(0, n), &h), HelloStatus::kNeedMore) << n;
  }
  // The same handshake message in two records (allowed, and a way to hide
  // the name from a parser that reads one record).
  const std::string body = hello.substr(5);
  auto record = [](std::string_view payload) {
    std::string r = "\x16\x03\x01";
    r += static_cast<char>(payload.size() >> 8);
    r += static_cast<char>(payload.size() & 0xff);
    return r + std::string(payload);
  };
  const std::string split =
      record(std::string_view(body).substr(0, 40)) + record(std::string_view(body).substr(40));
  ASSERT_EQ(ParseClientHello(split, &h), HelloStatus::kComplete);
  EXPECT_EQ(h.server_name, "front.example");
}

TEST(ClientHello, PlainTextIsNotTlsAndBrokenHellosAreMalformed) {
  ClientHello h;
  EXPECT_EQ(ParseClientHello("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &h), HelloStatus::kNotTls);
  EXPECT_EQ(ParseClientHello("SSH-2.0-OpenSSH_9.2\r\n", &h), HelloStatus::kNotTls);
  std::string hello = OpenSslHello("a.example", {});
  // A handshake message that is not a ClientHello.
  std::string wrong = hello;
  wrong[5] = 2;
  EXPECT_EQ(ParseClientHello(wrong, &h), HelloStatus::kMalformed);
  // Extra bytes after the hello inside its record.
  std::string extra = hello;
  const size_t len = (static_cast<uint8_t>(extra[3]) << 8 | static_cast<uint8_t>(extra[4])) + 1;
  extra[3] = static_cast<char>(len >> 8);
  extra[4] = static_cast<char>(len & 0xff);
  extra += 'x';
  EXPECT_EQ(ParseClientHello(extra, &h), HelloStatus::kMalformed);
  // A server name with a control character.
  std::string ctl = hello;
  const size_t at = ctl.find("a.example");
  ASSERT_NE(at, std::string::npos);
  ctl[at + 1] = '\n';
  EXPECT_EQ(ParseClientHello(ctl, &h), HelloStatus::kMalformed);
  // Control for the above: the untouched hello parses.
  EXPECT_EQ(ParseClientHello(hello, &h), HelloStatus::kComplete);
  // A second server_name extension naming another host (which one would
  // the server use?): refused.
  EXPECT_EQ(ParseClientHello(WithSecondServerName(hello, "b.example"), &h),
            HelloStatus::kMalformed);
  // Control: the same surgery adding an unknown extension instead parses.
  EXPECT_EQ(ParseClientHello(WithExtension(hello, 0x7a7a, ""), &h), HelloStatus::kComplete);
  EXPECT_EQ(h.server_name, "a.example");
  EXPECT_FALSE(h.encrypted);
}

TEST(ClientHello, AnEncryptedHelloIsMarked) {
  const std::string hello = OpenSslHello("public.example", {});
  ClientHello h;
  for (uint16_t type : {0xfe0d, 0xffce}) {
    ASSERT_EQ(ParseClientHello(WithExtension(hello, type, "x"), &h), HelloStatus::kComplete);
    EXPECT_TRUE(h.encrypted) << type;
  }
}

TEST(ClientHello, AHelloSpreadOverManyRecordsIsMalformed) {
  const std::string hello = OpenSslHello("a.example", {});
  const std::string payload = hello.substr(5);
  std::string split;
  for (char c : payload) split += std::string("\x16\x03\x01\x00\x01", 5) + c;
  ClientHello h;
  EXPECT_EQ(ParseClientHello(split, &h), HelloStatus::kMalformed);
  std::string two = std::string("\x16\x03\x01\x00\x10", 5) + payload.substr(0, 16);
  const size_t rest = payload.size() - 16;
  two += std::string("\x16\x03\x01", 3) + static_cast<char>(rest >> 8) +
         static_cast<char>(rest & 0xff) + payload.substr(16);
  EXPECT_EQ(ParseClientHello(two, &h), HelloStatus::kComplete) << "control: two records";
}

}  // namespace
}  // namespace ws::net
