// The egress relay against a FakeGuestAgent (no VM): its bounds, and a
// tunnel whose guest end never answers. The one server it reaches is on
// this machine's loopback.
#include "host/net/egress_relay.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/daemon/fake_guest_agent.h"
#include "tests/support/openssl_hello.h"

namespace ws::test {
namespace {

using Clock = std::chrono::steady_clock;

class EgressRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // as the daemon
    char tmpl[] = "/tmp/ws-egress-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    agent_ = std::make_shared<FakeGuestAgent>();
  }
  void TearDown() override {
    relay_.reset();
    // Handler threads that were just released may still append their audit
    // line: retry a moment rather than fail on "directory not empty".
    std::error_code ec;
    for (int i = 0;
         i < 50 && std::filesystem::remove_all(dir_, ec) == static_cast<std::uintmax_t>(-1); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  void StartRelay(std::vector<std::string> allow) {
    std::vector<net::AllowEntry> entries;
    for (const auto& a : allow) entries.push_back(net::ParseAllowEntry(a, "user").value());
    auto agent = agent_;
    relay_ = std::make_unique<net::EgressRelay>(
        "w",
        [agent]() -> Result<std::shared_ptr<guest::GuestAgent>> {
          return std::shared_ptr<guest::GuestAgent>(agent);
        },
        entries, dir_ + "/audit.jsonl");
  }
  std::string Audit() {
    std::ifstream in(dir_ + "/audit.jsonl");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  size_t Count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  }
  // Waits up to `limit` for `done`.
  template <typename F>
  bool WaitFor(F done, std::chrono::seconds limit = std::chrono::seconds(10)) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  }
  static guest::EgressAttempt Attempt(uint64_t id, std::string host, uint32_t port = 443) {
    guest::EgressAttempt a;
    a.id = id;
    a.host = std::move(host);
    a.port = port;
    a.method = "CONNECT";
    a.command = "curl";
    return a;
  }

  std::string dir_;
  std::shared_ptr<FakeGuestAgent> agent_;
  std::unique_ptr<net::EgressRelay> relay_;
};

TEST_F(EgressRelayTest, AnOverlongNameIsDroppedUnheardAndAudited) {
  StartRelay({});
  agent_->PushAttempt(Attempt(1, "denied.example"));                    // control: answered
  agent_->PushAttempt(Attempt(2, std::string(256, 'a') + ".example"));  // never answered
  ASSERT_TRUE(WaitFor([&] { return agent_->refused() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return Count(Audit(), "\"decision\":\"deny\"") == 2; })) << Audit();
  EXPECT_NE(Audit().find("not on the allowlist"), std::string::npos) << Audit();
  EXPECT_NE(Audit().find("dropped: a host name longer than 255 bytes"), std::string::npos)
      << Audit();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(agent_->refused(), 1);
}

TEST_F(EgressRelayTest, AFloodPastTheHandlerCapIsDroppedAndTheRestAnswered) {
  StartRelay({});
  agent_->HoldRefusals();  // a guest that takes no answer: every handler waits
  const int total = net::kMaxHandlers + 10;
  for (int i = 0; i < total; ++i) agent_->PushAttempt(Attempt(i, "flood.example"));
  // (512 threads on a busy 2-core machine: a generous bound, not a timing)
  ASSERT_TRUE(WaitFor([&] { return agent_->waiting_refusals() == net::kMaxHandlers; },
                      std::chrono::seconds(60)))
      << agent_->waiting_refusals();
  ASSERT_TRUE(WaitFor([&] { return Count(Audit(), "connections waiting at once") == 10; },
                      std::chrono::seconds(60)))
      << Count(Audit(), "connections waiting at once");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(agent_->waiting_refusals(), net::kMaxHandlers);  // no more threads than the cap
  agent_->Release();
  ASSERT_TRUE(
      WaitFor([&] { return agent_->refused() == net::kMaxHandlers; }, std::chrono::seconds(60)));
}

TEST_F(EgressRelayTest, ATunnelWhoseGuestNeverSpeaksIsCutWhenIdle) {
  setenv("WORKSPACE_EGRESS_IDLE_SECONDS", "1", 1);  // read once, by the first relay that asks
  int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(server, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(server, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len);
  const uint16_t port = ntohs(addr.sin_port);
  StartRelay({"127.0.0.1:" + std::to_string(port)});
  const auto t0 = Clock::now();
  agent_->PushAttempt(Attempt(7, "127.0.0.1", port));
  ASSERT_TRUE(WaitFor([&] { return Count(Audit(), "\"decision\":\"allow\"") == 1; })) << Audit();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(8));
  EXPECT_EQ(agent_->accepted(), 1);
  int conn = accept4(server, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  EXPECT_GE(conn, 0) << "the relay never connected to the allowed server";  // control
  if (conn >= 0) close(conn);
  close(server);
}

// A server on loopback that keeps what its one connection sent.
class RecordingServer {
 public:
  RecordingServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 4);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      connected_ = true;
      char buf[4096];
      for (;;) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        std::lock_guard lock(mu_);
        got_.append(buf, static_cast<size_t>(n));
      }
      close(c);
    });
  }
  ~RecordingServer() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  bool connected() const { return connected_; }
  std::string got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> connected_{false};
  std::mutex mu_;
  std::string got_;
  std::thread thread_;
};

// An allowed name fronts for no other: the first bytes on its tunnel must
// name it (TLS SNI, HTTP Host), or the upstream receives nothing at all.
TEST_F(EgressRelayTest, ATunnelCarriesOnlyTheNameItWasAllowedTo) {
  struct Case {
    std::string sent;
    bool passes;
    std::string why;  // in the audit line when refused
  };
  const std::vector<Case> cases = {
      {test::OpenSslHello("localhost", {"http/1.1"}), true, ""},
      {test::OpenSslHello("other.example", {"http/1.1"}), false,
       "TLS server name other.example is not localhost"},
      {test::OpenSslHello(nullptr, {}), false, "without a server name (SNI) to localhost"},
      {"GET / HTTP/1.1\r\nHost: localhost:PORT\r\n\r\n", true, ""},
      {"GET / HTTP/1.1\r\nHost: other.example\r\n\r\n", false,
       "Host 'other.example' is not localhost"},
  };
  int id = 0;
  for (Case c : cases) {
    RecordingServer server;
    if (auto at = c.sent.find("PORT"); at != std::string::npos) {
      c.sent.replace(at, 4, std::to_string(server.port()));
    }
    StartRelay({"localhost:" + std::to_string(server.port())});
    auto guest = std::make_shared<ScriptedStream>(c.sent);
    agent_->NextTunnel(guest);
    agent_->PushAttempt(Attempt(++id, "localhost", server.port()));
    const std::string decision = c.passes ? "\"decision\":\"allow\"" : "\"decision\":\"deny\"";
    if (c.passes) {
      ASSERT_TRUE(WaitFor([&] { return server.got() == c.sent; })) << Audit();
      guest->Cancel();  // the client goes: the tunnel ends and is audited
    }
    ASSERT_TRUE(WaitFor([&] { return Count(Audit(), decision) == 1; })) << Audit();
    EXPECT_TRUE(server.connected()) << "control: the allowed address was reached";
    if (!c.passes) {
      EXPECT_EQ(server.got(), "") << "the upstream received bytes of a refused tunnel";
      EXPECT_NE(Audit().find(c.why), std::string::npos) << Audit();
      EXPECT_TRUE(guest->ended()) << "the guest's end was closed";
      if (c.sent.rfind("GET", 0) == 0) {
        EXPECT_EQ(guest->written().rfind("HTTP/1.1 421 ", 0), 0u) << guest->written();
      } else {
        EXPECT_EQ(guest->written(), "") << "a TLS client hears no HTTP";
      }
    }
    relay_.reset();
    std::filesystem::remove(dir_ + "/audit.jsonl");
  }
}

}  // namespace
}  // namespace ws::test
