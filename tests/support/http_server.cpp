#include "tests/support/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ws::test {
namespace {

int Listen(const std::string& ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 16) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int RecordingHttpServer::ListenLoopback() { return Listen("127.0.0.1", 0); }

int RecordingHttpServer::port() const {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

int RecordingHttpServer::ListenInNamespace(const std::string& ns, const std::string& ip, int port) {
  int fd = -1;
  // setns on a thread of its own; the socket stays in that namespace.
  std::thread([&] {
    int nsfd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return;
    if (setns(nsfd, CLONE_NEWNET) == 0) fd = Listen(ip, port);
    close(nsfd);
  }).join();
  return fd;
}

RecordingHttpServer::RecordingHttpServer(int listen_fd, std::string body)
    : body_(std::move(body)), fd_(listen_fd) {
  if (fd_ >= 0) thread_ = std::thread([this] { Loop(); });
}

RecordingHttpServer::~RecordingHttpServer() {
  if (fd_ < 0) return;
  shutdown(fd_, SHUT_RDWR);
  close(fd_);
  thread_.join();
}

std::string RecordingHttpServer::received() {
  std::lock_guard lock(mu_);
  return received_;
}

void RecordingHttpServer::Route(const std::string& path, std::string body) {
  std::lock_guard lock(mu_);
  routes_[path] = std::move(body);
}

void RecordingHttpServer::Loop() {
  for (;;) {
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    // "GET /path" or "GET http://host:port/path".
    std::string path;
    if (auto sp = req.find(' '); sp != std::string::npos)
      path = req.substr(sp + 1, req.find(' ', sp + 1) - sp - 1);
    if (path.rfind("http://", 0) == 0) {
      auto slash = path.find('/', 7);
      path = slash == std::string::npos ? "/" : path.substr(slash);
    }
    std::string body = body_;
    {
      std::lock_guard lock(mu_);
      received_ += req;
      if (auto it = routes_.find(path); it != routes_.end()) body = it->second;
    }
    std::string resp =
        "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
    close(c);
  }
}

}  // namespace ws::test
