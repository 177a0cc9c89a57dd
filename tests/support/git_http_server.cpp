#include "tests/support/git_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "tests/support/http_server.h"
#include "tests/support/process.h"

namespace ws::test {
namespace {

std::string Header(const std::string& head, const std::string& name) {
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string::npos) {
    at += 2;
    if (strncasecmp(head.c_str() + at, (name + ":").c_str(), name.size() + 1) == 0) {
      size_t b = at + name.size() + 1, e = head.find("\r\n", b);
      while (b < e && head[b] == ' ') ++b;
      return head.substr(b, e - b);
    }
  }
  return "";
}

}  // namespace

std::string MakeBareRepository(const std::string& root, const std::string& repo) {
  const std::string bare = root + "/" + repo + ".git", seed = bare + ".seed";
  RunOptions o;
  o.env = {{"GIT_AUTHOR_NAME", "t"},
           {"GIT_AUTHOR_EMAIL", "t@t"},
           {"GIT_COMMITTER_NAME", "t"},
           {"GIT_COMMITTER_EMAIL", "t@t"},
           {"GIT_CONFIG_NOSYSTEM", "1"}};
  const std::vector<std::vector<std::string>> steps = {
      {"git", "init", "-q", "--bare", "-b", "main", bare},
      {"git", "--git-dir", bare, "config", "http.receivepack", "true"},
      {"git", "init", "-q", "-b", "main", seed},
      {"sh", "-c", "echo hello > " + seed + "/README"},
      {"git", "-C", seed, "add", "README"},
      {"git", "-C", seed, "commit", "-qm", "first"},
      {"git", "-C", seed, "push", "-q", bare, "main"},
      {"rm", "-rf", seed}};
  for (const auto& step : steps) {
    RunResult r = Run(step, o);
    if (r.code != 0) return step[1] + " " + step[2] + ": " + r.err;
  }
  return "";
}

GitHttpServer::GitHttpServer(const TestCa& ca, std::string project_root, int listen_fd)
    : root_(std::move(project_root)) {
  signal(SIGPIPE, SIG_IGN);
  ctx_ = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_chain_file(ctx_, ca.cert_pem_path().c_str());
  SSL_CTX_use_PrivateKey_file(ctx_, ca.key_pem_path().c_str(), SSL_FILETYPE_PEM);
  fd_ = listen_fd >= 0 ? listen_fd : RecordingHttpServer::ListenLoopback();
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { Loop(); });
}

GitHttpServer::~GitHttpServer() {
  shutdown(fd_, SHUT_RDWR);
  thread_.join();
  close(fd_);
  SSL_CTX_free(ctx_);
}

std::vector<std::string> GitHttpServer::Log() {
  std::lock_guard lock(mu_);
  return log_;
}

void GitHttpServer::RequireForPush(std::string authorization) {
  std::lock_guard lock(mu_);
  push_authorization_ = std::move(authorization);
}

std::vector<std::string> GitHttpServer::Authorizations() {
  std::lock_guard lock(mu_);
  return authorizations_;
}

uint64_t GitHttpServer::BytesReceived() {
  std::lock_guard lock(mu_);
  return bytes_;
}

void GitHttpServer::Loop() {
  for (;;) {
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    timeval tv{20, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) Serve(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(c);
  }
}

// One request per connection (the answer says Connection: close).
void GitHttpServer::Serve(SSL* ssl) {
  std::string req;
  char buf[16384];
  auto more = [&] {
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) return false;
    req.append(buf, static_cast<size_t>(n));
    std::lock_guard lock(mu_);
    bytes_ += static_cast<uint64_t>(n);
    return true;
  };
  while (req.find("\r\n\r\n") == std::string::npos) {
    if (!more()) return;
  }
  const size_t head_end = req.find("\r\n\r\n") + 4;
  const std::string head = req.substr(0, head_end);
  std::string body;
  if (strcasecmp(Header(head, "Transfer-Encoding").c_str(), "chunked") == 0) {
    size_t at = head_end;
    for (;;) {
      size_t eol;
      while ((eol = req.find("\r\n", at)) == std::string::npos) {
        if (!more()) return;
      }
      const size_t size = std::strtoul(req.c_str() + at, nullptr, 16);
      while (req.size() < eol + 2 + size + 2) {
        if (!more()) return;
      }
      body.append(req, eol + 2, size);
      at = eol + 2 + size + 2;
      if (size == 0) break;
    }
  } else {
    const size_t length = std::strtoul(Header(head, "Content-Length").c_str(), nullptr, 10);
    while (req.size() < head_end + length) {
      if (!more()) return;
    }
    body = req.substr(head_end, length);
  }
  const size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
  const std::string method = head.substr(0, sp1);
  const std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string authorization = Header(head, "Authorization");
  std::string required;
  {
    std::lock_guard lock(mu_);
    log_.push_back(method + " " + target);
    if (!authorization.empty()) authorizations_.push_back(authorization);
    required = push_authorization_;
  }
  const size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  std::string answer;
  if (!required.empty() && target.find("git-receive-pack") != std::string::npos &&
      authorization != required) {
    answer =
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"GitHub\"\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n";
  } else if (path.find(".git/") != std::string::npos) {
    RunOptions o;
    o.env = {{"GIT_PROJECT_ROOT", root_},
             {"GIT_HTTP_EXPORT_ALL", "1"},
             {"REMOTE_USER", "test"},
             {"REMOTE_ADDR", "127.0.0.1"},
             {"REQUEST_METHOD", method},
             {"PATH_INFO", path},
             {"QUERY_STRING", q == std::string::npos ? "" : target.substr(q + 1)},
             {"CONTENT_TYPE", Header(head, "Content-Type")},
             {"CONTENT_LENGTH", std::to_string(body.size())},
             {"GIT_PROTOCOL", Header(head, "Git-Protocol")}};
    o.stdin_data = body;
    o.timeout_seconds = 60;
    RunResult r = Run({"/usr/lib/git-core/git-http-backend"}, o);
    const size_t end = r.out.find("\r\n\r\n");
    const size_t lf = r.out.find("\n\n");
    const bool crlf = end != std::string::npos && (lf == std::string::npos || end < lf);
    const size_t cut = crlf ? end + 4 : (lf == std::string::npos ? 0 : lf + 2);
    std::string cgi_head = r.out.substr(0, cut), cgi_body = r.out.substr(cut);
    std::string status = "200 OK";
    if (size_t s = cgi_head.find("Status: "); s != std::string::npos) {
      status = cgi_head.substr(s + 8, cgi_head.find_first_of("\r\n", s) - s - 8);
    }
    std::string headers;
    size_t at = 0;
    while (at < cgi_head.size()) {
      size_t e = cgi_head.find('\n', at);
      if (e == std::string::npos) break;
      std::string line = cgi_head.substr(at, e - at);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      at = e + 1;
      if (line.empty() || line.rfind("Status:", 0) == 0) continue;
      headers += line + "\r\n";
    }
    answer = "HTTP/1.1 " + status + "\r\n" + headers +
             "Content-Length: " + std::to_string(cgi_body.size()) +
             "\r\nConnection: close\r\n\r\n" + cgi_body;
  } else {
    const std::string json = "{\"served\":\"" + method + " " + path + "\"}";
    answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
             std::to_string(json.size()) + "\r\nConnection: close\r\n\r\n" + json;
  }
  SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
}

}  // namespace ws::test
