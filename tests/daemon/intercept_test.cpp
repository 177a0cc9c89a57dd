// Interception without a VM: a real OpenSSL client stands in for the guest
// (on a socket pair carried as the tunnel), a TLS server on this machine's
// loopback for the real host (its own throwaway CA, trusted as the tests'
// upstream anchor). What reaches the server is what it recorded.
#include "host/net/intercept.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "host/net/tunnel_guard.h"
#include "tests/support/tls_loopback.h"

namespace ws::test {
namespace {

using namespace std::chrono_literals;
const std::string kPh = "wsph_00112233445566778899aabbccddeeff";
const std::string kKey = "sk-test-REAL-KEY-0123456789";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class InterceptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // as the daemon: a peer gone is an error return, not a kill
    char tmpl[] = "/tmp/ws-intercept-XXXXXX";
    dir_ = mkdtemp(tmpl);
    upstream_ca_ = std::make_unique<TestCa>(dir_ + "/upstream");
    server_ = std::make_unique<LoopbackTlsServer>(*upstream_ca_);
    auto ca = net::WorkspaceCa::Create({"localhost"}, "workspace t");
    ASSERT_TRUE(ca.ok()) << ca.status().message();
    ca_ = std::move(ca.value());
    auto tls = net::InterceptTls::Make(upstream_ca_->ca_pem_path());
    ASSERT_TRUE(tls.ok()) << tls.status().message();
    tls_ = tls.value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  net::HostPlan Plan(net::HostClass c, bool binding = true) {
    net::HostPlan p;
    p.host = "localhost";
    p.port = server_->port();
    p.host_class = c;
    if (binding) p.bindings.push_back({"anthropic", "x-api-key", "{}", kPh, kKey});
    return p;
  }

  struct Exchange {
    bool handshake = false;
    std::string response;
    std::string refused;  // the upstream's verdict
    std::vector<std::string> audit;
  };
  // A guest client: TLS to `sni` trusting the workspace CA (or `trust`),
  // offering `alpn`, sending `request`, reading until the end. `on_read`
  // sees what has arrived so far.
  Exchange Run(net::HostPlan plan, const char* sni, std::vector<std::string> alpn,
               const std::string& request,
               const std::function<void(const std::string&)>& on_read = nullptr,
               bool intercept = true) {
    Exchange ex;
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
    auto stream = std::make_unique<SocketStream>(pair[0]);
    net::AllowEntry entry{"localhost", server_->port(), "user"};
    net::Decision d = net::Decide({entry}, "localhost", server_->port());
    std::mutex audit_mu;
    std::thread host([&] {
      net::Dialed dialed =
          intercept ? net::DialIntercept(
                          d, "localhost", plan, ca_, tls_, 30, current_,
                          [&](const net::InterceptedRequest& r) {
                            std::lock_guard lock(audit_mu);
                            ex.audit.push_back(r.method + " " + r.path + " " + r.outcome.rule +
                                               " " + (r.outcome.injected ? "injected" : "-") + " " +
                                               std::to_string(r.status));
                          })
                    : net::DialTcp(d, "localhost", server_->port(), 30);
      if (!dialed.upstream) {
        ex.refused = "dial: " + dialed.decision.reason;
        stream->Cancel();
        return;
      }
      ex.refused = dialed.upstream->Handle(dialed.decision, *stream).refused;
    });
    std::string trust = ca_->CertPem();
    if (!intercept) trust += ReadFile(upstream_ca_->ca_pem_path());
    ex.handshake = GuestTlsExchange(pair[1], trust, sni, alpn, request, &ex.response, on_read);
    shutdown(pair[1], SHUT_RDWR);
    host.join();
    close(pair[1]);
    return ex;
  }

  std::string dir_;
  std::unique_ptr<TestCa> upstream_ca_;
  std::unique_ptr<LoopbackTlsServer> server_;
  std::shared_ptr<net::WorkspaceCa> ca_;
  std::shared_ptr<net::InterceptTls> tls_;
  std::function<bool()> current_;  // the plan still holds (null: always)
};

std::string Request(const std::string& method, const std::string& key,
                    const std::string& path = "/v1/messages") {
  return method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nx-api-key: " + key +
         "\r\nX-Note: " + kPh + "\r\nContent-Length: 0\r\n\r\n";
}

TEST_F(InterceptTest, ThePlaceholderReachesTheBoundHostAsTheRealKeyAndNowhereElse) {
  Exchange ex = Run(Plan(net::HostClass::kAiApi), "localhost", {"http/1.1"}, Request("POST", kPh));
  ASSERT_TRUE(ex.handshake) << "the guest trusts the workspace CA's leaf";
  EXPECT_EQ(ex.refused, "");
  const std::string got = server_->got();
  EXPECT_NE(got.find("x-api-key: " + kKey + "\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("X-Note: " + kPh + "\r\n"), std::string::npos) << "other headers as sent";
  // The server echoed the real key back: the guest sees the placeholder.
  EXPECT_NE(ex.response.find("200 OK"), std::string::npos) << ex.response;
  EXPECT_EQ(ex.response.find(kKey), std::string::npos) << ex.response;
  EXPECT_NE(ex.response.find("x-api-key: " + kPh.substr(0, kKey.size())), std::string::npos)
      << ex.response;
  ASSERT_EQ(ex.audit.size(), 2u);
  EXPECT_EQ(ex.audit[0], "POST /v1/messages ai-api injected 200") << "with its answer's status";
  EXPECT_EQ(ex.audit[1], "RESPONSE 1 replaced by the placeholder reflected secret - 0");
}

TEST_F(InterceptTest, ThePlaceholderToAHostWithoutBindingArrivesUnchanged) {
  Exchange ex = Run(Plan(net::HostClass::kOther), "localhost", {"http/1.1"}, Request("GET", kPh),
                    nullptr, /*intercept=*/false);
  ASSERT_TRUE(ex.handshake);
  EXPECT_NE(server_->got().find("x-api-key: " + kPh + "\r\n"), std::string::npos) << server_->got();
  EXPECT_EQ(server_->got().find(kKey), std::string::npos);
}

TEST_F(InterceptTest, RefusedRequestsAndConnectionsSendTheServerNoRequestByte) {
  struct Case {
    std::string name;
    net::HostPlan plan;
    const char* sni;
    std::vector<std::string> alpn;
    std::string request;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"foreign key",
       Plan(net::HostClass::kAiApi),
       "localhost",
       {"http/1.1"},
       Request("POST", "sk-worms-own-key", "/v1/files"),
       "not the workspace's placeholder"},
      {"registry write",
       Plan(net::HostClass::kRegistry, false),
       "localhost",
       {"http/1.1"},
       Request("PUT", "x", "/wspkg"),
       "read-only"},
      {"Host mismatch",
       Plan(net::HostClass::kAiApi),
       "localhost",
       {"http/1.1"},
       "GET / HTTP/1.1\r\nHost: other.example\r\nx-api-key: " + kPh + "\r\n\r\n",
       "is not localhost"},
      {"SNI mismatch",
       Plan(net::HostClass::kAiApi),
       "other.example",
       {"http/1.1"},
       Request("GET", kPh),
       "TLS server name other.example is not localhost"},
      {"h2 only",
       Plan(net::HostClass::kAiApi),
       "localhost",
       {"h2"},
       Request("GET", kPh),
       "offers no HTTP/1.1"},
  };
  for (const Case& c : cases) {
    Exchange ex = Run(c.plan, c.sni, c.alpn, c.request);
    EXPECT_NE(ex.refused.find(c.why), std::string::npos) << c.name << ": " << ex.refused;
    EXPECT_EQ(server_->got(), "") << c.name << ": the server received request bytes";
    EXPECT_EQ(ex.response.find(kKey), std::string::npos) << c.name;
    if (ex.handshake) {
      EXPECT_NE(ex.response.find("workspace: "), std::string::npos) << c.name << ex.response;
    }
  }
  // Control: the same server takes the same request with the placeholder.
  Exchange ok = Run(Plan(net::HostClass::kAiApi), "localhost", {"http/1.1"}, Request("GET", kPh));
  EXPECT_EQ(ok.refused, "");
  EXPECT_NE(server_->got().find(kKey), std::string::npos);
}

// Pipelined on one connection: a read that passes, then a write a registry
// refuses. The guest gets the read's answer whole, then the refusal in
// HTTP; the server never sees the write.
TEST_F(InterceptTest, ALaterRefusalIsAnsweredAfterTheAnswersBeforeIt) {
  Exchange ex = Run(Plan(net::HostClass::kRegistry, false), "localhost", {"http/1.1"},
                    Request("GET", "x", "/wspkg") + Request("PUT", "x", "/wspkg"));
  ASSERT_TRUE(ex.handshake);
  EXPECT_NE(ex.refused.find("read-only"), std::string::npos) << ex.refused;
  const size_t ok = ex.response.find("HTTP/1.1 200 OK");
  const size_t refused = ex.response.find("HTTP/1.1 403");
  ASSERT_NE(ok, std::string::npos) << ex.response;
  ASSERT_NE(refused, std::string::npos) << "the refusal is answered: " << ex.response;
  EXPECT_LT(ok, refused);
  EXPECT_NE(ex.response.find("GET /wspkg HTTP/1.1", ok), std::string::npos) << "answer whole";
  EXPECT_NE(ex.response.find("workspace: ", refused), std::string::npos) << ex.response;
  EXPECT_EQ(server_->got().find("PUT"), std::string::npos) << server_->got();
  // (in either order: the two may reach the host in one read or two)
  std::sort(ex.audit.begin(), ex.audit.end());
  EXPECT_EQ(ex.audit,
            (std::vector<std::string>{"GET /wspkg registry - 200", "PUT /wspkg read-only - 403"}));
}

TEST_F(InterceptTest, ARequestUnderAPlanThatChangedSinceIsRefused) {
  current_ = [] { return false; };  // unbound or replaced since the connection opened
  Exchange ex = Run(Plan(net::HostClass::kAiApi), "localhost", {"http/1.1"}, Request("GET", kPh));
  EXPECT_NE(ex.refused.find("secrets changed"), std::string::npos) << ex.refused;
  EXPECT_EQ(server_->got(), "");
  current_ = [] { return true; };  // control
  Exchange ok = Run(Plan(net::HostClass::kAiApi), "localhost", {"http/1.1"}, Request("GET", kPh));
  EXPECT_EQ(ok.refused, "");
  EXPECT_NE(server_->got().find(kKey), std::string::npos);
}

TEST_F(InterceptTest, AnUpstreamWhoseCertificateDoesNotVerifyGetsNoRequest) {
  auto other = net::InterceptTls::Make();  // the system store only: the test CA is unknown
  ASSERT_TRUE(other.ok());
  tls_ = other.value();
  Exchange ex = Run(Plan(net::HostClass::kAiApi), "localhost", {"http/1.1"}, Request("GET", kPh));
  EXPECT_FALSE(ex.handshake) << "the guest's handshake is not finished for a bad upstream";
  EXPECT_NE(ex.refused.find("certificate does not verify"), std::string::npos) << ex.refused;
  EXPECT_EQ(server_->got(), "");
  EXPECT_EQ(server_->connections(), 1) << "control: the server was reached";
}

TEST_F(InterceptTest, AnEventStreamArrivesEventByEvent) {
  int seen = 0;
  Exchange ex = Run(Plan(net::HostClass::kAiApi), "localhost", {"http/1.1"},
                    "GET /sse HTTP/1.1\r\nHost: localhost\r\nx-api-key: " + kPh + "\r\n\r\n",
                    [&](const std::string& so_far) {
                      for (int e = seen + 1; e <= 3; ++e) {
                        if (so_far.find("data: event" + std::to_string(e)) == std::string::npos) {
                          break;
                        }
                        seen = e;
                        server_->Seen(e);  // the server sends the next only now
                      }
                    });
  EXPECT_EQ(seen, 3) << ex.response;
  EXPECT_NE(ex.response.find("data: event3\n\n"), std::string::npos);
}

}  // namespace
}  // namespace ws::test
