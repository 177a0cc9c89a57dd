// Test and bench support for interception without a VM: the tunnel's
// guest end as one side of a socket pair, a TLS server on loopback standing
// in for the real host, and a guest TLS client.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host/common/byte_stream.h"
#include "tests/support/tls_http_server.h"

namespace ws::test {

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
// /sse sends three events, each after the test has seen the one before;
// POST /v1/messages asking to stream answers as the Messages API does, saying
// kMessagesReply;
// /big/N sends N bytes; anything else gets its request head back as the
// body (a reflecting server). One request per connection.
class LoopbackTlsServer {
 public:
  static constexpr const char* kMessagesReply = "pong from the test server";
  // On 127.0.0.1 at a free port, or on `listen_fd` (bound and listening,
  // e.g. in a test network namespace).
  explicit LoopbackTlsServer(const TestCa& ca, int listen_fd = -1) {
    signal(SIGPIPE, SIG_IGN);  // a client that went away is an error return, not a kill
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, ca.cert_pem_path().c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, ca.key_pem_path().c_str(), SSL_FILETYPE_PEM);
    fd_ = listen_fd;
    sockaddr_in a{};
    if (fd_ < 0) {
      fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
      listen(fd_, 8);
    }
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~LoopbackTlsServer() {
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
    // The body, as long as its Content-Length says (recorded too).
    const size_t head_end = req.find("\r\n\r\n") + 4;
    size_t length = 0;
    for (const char* name : {"\r\nContent-Length: ", "\r\ncontent-length: "}) {
      if (const size_t at = req.find(name); at != std::string::npos && at < head_end)
        length = std::stoul(req.substr(at + std::char_traits<char>::length(name)));
    }
    while (req.size() < head_end + length) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
      std::lock_guard lock(mu_);
      got_.append(buf, static_cast<size_t>(n));
    }
    auto send = [&](const std::string& s) { SSL_write(ssl, s.data(), static_cast<int>(s.size())); };
    if (req.rfind("POST /v1/messages", 0) == 0 &&
        req.find("\"stream\":true", head_end) != std::string::npos) {
      // The Messages API, streamed: one assistant turn saying kMessagesReply.
      const std::string events[] = {
          R"({"type":"message_start","message":{"id":"msg_test","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}})",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
          std::string(
              R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")") +
              kMessagesReply + R"("}})",
          R"({"type":"content_block_stop","index":0})",
          R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}})",
          R"({"type":"message_stop"})"};
      std::string body;
      for (const std::string& e : events) {
        body += "event: " + e.substr(9, e.find('"', 9) - 9) + "\ndata: " + e + "\n\n";
      }
      send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
      return;
    }
    if (req.rfind("GET /big/", 0) == 0) {
      const size_t n = std::stoul(req.substr(9));
      send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(n) +
           "\r\nConnection: close\r\n\r\n");
      const std::string block(64 * 1024, 'b');
      for (size_t left = n; left > 0;) {
        const size_t k = std::min(left, block.size());
        if (SSL_write(ssl, block.data(), static_cast<int>(k)) <= 0) return;
        left -= k;
      }
      return;
    }
    if (req.rfind("GET /sse ", 0) == 0) {
      send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
      for (int e = 1; e <= 3; ++e) {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return seen_ >= e - 1; })) return;
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

// A guest's TLS client on `fd`: trusts the PEM `trust`, asks for `sni`
// (none when null) offering `alpn`, sends `request`, reads to the end;
// `on_read` sees what has arrived so far. False when the handshake failed.
bool GuestTlsExchange(int fd, const std::string& trust_pem, const char* sni,
                      const std::vector<std::string>& alpn, const std::string& request,
                      std::string* response,
                      const std::function<void(const std::string&)>& on_read = nullptr);

}  // namespace ws::test
