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
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "host/net/tunnel_guard.h"
#include "tests/support/openssl_hello.h"
#include "tests/support/tls_http_server.h"

namespace ws::test {
namespace {

using namespace std::chrono_literals;
const std::string kPh = "wsph_00112233445566778899aabbccddeeff";
const std::string kKey = "sk-test-REAL-KEY-0123456789";

// The tunnel's guest end: one side of a socket pair.
class SocketStream final : public ByteStream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream() override { close(fd_); }
  bool Read(std::string* data) override {
    char buf[16384];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data->assign(buf, static_cast<size_t>(n));
    return true;
  }
  bool Write(std::string_view d) override {
    return send(fd_, d.data(), d.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(d.size());
  }
  void CloseWrite() override { shutdown(fd_, SHUT_WR); }
  void Cancel() override { shutdown(fd_, SHUT_RDWR); }
  Status Finish() override { return Status::Ok(); }

 private:
  int fd_;
};

// The real host: TLS on loopback; records every request byte it decrypts;
// /sse sends three events, each after the test has seen the one before.
class Server {
 public:
  explicit Server(const TestCa& ca) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, ca.cert_pem_path().c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, ca.key_pem_path().c_str(), SSL_FILETYPE_PEM);
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 8);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Server() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  std::string got() {
    std::lock_guard lock(mu_);
    return got_;
  }
  int connections() {
    std::lock_guard lock(mu_);
    return connections_;
  }
  void Seen(int event) {
    std::lock_guard lock(mu_);
    seen_ = event;
    cv_.notify_all();
  }

 private:
  void Loop() {
    for (;;) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      {
        std::lock_guard lock(mu_);
        ++connections_;
      }
      timeval tv{10, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) == 1) Serve(ssl);
      SSL_shutdown(ssl);
      SSL_free(ssl);
      close(c);
    }
  }
  void Serve(SSL* ssl) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
      std::lock_guard lock(mu_);
      got_.append(buf, static_cast<size_t>(n));
    }
    auto send = [&](const std::string& s) { SSL_write(ssl, s.data(), static_cast<int>(s.size())); };
    if (req.rfind("GET /sse ", 0) == 0) {
      send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
      for (int e = 1; e <= 3; ++e) {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, 20s, [&] { return seen_ >= e - 1; })) return;
        lock.unlock();
        send("data: event" + std::to_string(e) + "\n\n");
      }
      return;
    }
    // Anything else: the request head back as the body (a reflecting server).
    const std::string head = req.substr(0, req.find("\r\n\r\n"));
    send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(head.size()) +
         "\r\nConnection: close\r\n\r\n" + head);
  }
  SSL_CTX* ctx_;
  int fd_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string got_;
  int connections_ = 0;
  int seen_ = 0;
};

class InterceptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ws-intercept-XXXXXX";
    dir_ = mkdtemp(tmpl);
    upstream_ca_ = std::make_unique<TestCa>(dir_ + "/upstream");
    server_ = std::make_unique<Server>(*upstream_ca_);
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
                          d, "localhost", plan, ca_, tls_, 30,
                          [&](const net::InterceptedRequest& r) {
                            std::lock_guard lock(audit_mu);
                            ex.audit.push_back(r.method + " " + r.path + " " + r.outcome.rule +
                                               " " + (r.outcome.injected ? "injected" : "-"));
                          })
                    : net::DialTcp(d, "localhost", server_->port(), 30);
      if (!dialed.upstream) {
        ex.refused = "dial: " + dialed.decision.reason;
        stream->Cancel();
        return;
      }
      ex.refused = dialed.upstream->Handle(dialed.decision, *stream).refused;
    });
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    BIO* b = BIO_new_mem_buf(ca_->CertPem().data(), static_cast<int>(ca_->CertPem().size()));
    const std::string pem = ca_->CertPem();
    BIO_free(b);
    b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* root = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    X509_STORE_add_cert(store, root);
    X509_free(root);
    if (!intercept)
      SSL_CTX_load_verify_locations(ctx, upstream_ca_->ca_pem_path().c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, pair[1]);
    if (sni) {
      SSL_set_tlsext_host_name(ssl, sni);
      SSL_set1_host(ssl, sni);
    }
    if (!alpn.empty()) {
      std::string wire;
      for (const auto& p : alpn) wire += static_cast<char>(p.size()) + p;
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                          static_cast<unsigned>(wire.size()));
    }
    timeval tv{20, 0};
    setsockopt(pair[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ex.handshake = SSL_connect(ssl) == 1;
    if (ex.handshake) {
      SSL_write(ssl, request.data(), static_cast<int>(request.size()));
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        ex.response.append(buf, static_cast<size_t>(n));
        if (on_read) on_read(ex.response);
      }
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    shutdown(pair[1], SHUT_RDWR);
    host.join();
    close(pair[1]);
    return ex;
  }

  std::string dir_;
  std::unique_ptr<TestCa> upstream_ca_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<net::WorkspaceCa> ca_;
  std::shared_ptr<net::InterceptTls> tls_;
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
  EXPECT_EQ(ex.audit[0], "POST /v1/messages ai-api injected");
  EXPECT_EQ(ex.audit[1], "RESPONSE 1 replaced by the placeholder reflected secret -");
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
