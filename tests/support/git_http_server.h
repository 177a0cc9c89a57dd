// Test support: GitHub on this machine. An HTTPS server on 127.0.0.1 (a
// throwaway CA's certificate) that serves git's smart HTTP for the bare
// repositories under a folder through the real `git http-backend` (CGI),
// answers any other request with a small JSON body as an API would, and
// records every request it was sent: nothing recorded, nothing arrived.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/tls_http_server.h"

namespace ws::test {

// Makes `root`/OWNER/REPO.git, a bare repository taking pushes over HTTP,
// with one commit on main (README: "hello"). "" or what failed.
std::string MakeBareRepository(const std::string& root, const std::string& repo);

class GitHttpServer {
 public:
  // Serves /OWNER/REPO.git/... from `project_root`/OWNER/REPO.git, on
  // 127.0.0.1 at a free port or on `listen_fd` (bound and listening, e.g.
  // in a test network namespace; the server closes it).
  GitHttpServer(const TestCa& ca, std::string project_root, int listen_fd = -1);
  ~GitHttpServer();
  GitHttpServer(const GitHttpServer&) = delete;
  GitHttpServer& operator=(const GitHttpServer&) = delete;

  uint16_t port() const { return port_; }
  // "METHOD TARGET" of each request received whole, in order.
  std::vector<std::string> Log();
  // Every byte decrypted from every connection (heads and bodies).
  uint64_t BytesReceived();
  // From now on a push (service git-receive-pack) needs this Authorization
  // value, as GitHub does; without it: 401 asking for Basic credentials.
  void RequireForPush(std::string authorization);
  // Every Authorization value received, in order.
  std::vector<std::string> Authorizations();

 private:
  void Loop();
  void Serve(SSL* ssl);
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string root_;
  std::mutex mu_;
  std::vector<std::string> log_;
  std::vector<std::string> authorizations_;
  std::string push_authorization_;
  uint64_t bytes_ = 0;
  std::thread thread_;
};

}  // namespace ws::test
