// Test support: an HTTP server on a listening socket the caller made (on
// loopback, or inside a test network namespace) that answers every request
// with a fixed body (or the body routed to its path) and records every byte
// it receives.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace ws::test {

class RecordingHttpServer {
 public:
  // Takes ownership of `listen_fd` (bound and listening; -1 makes ok() false).
  RecordingHttpServer(int listen_fd, std::string body);
  ~RecordingHttpServer();
  bool ok() const { return fd_ >= 0; }
  int port() const;  // the port it listens on
  std::string received();
  // Answers GET `path` (origin or absolute form) with `body` from now on.
  void Route(const std::string& path, std::string body);

  // A listening socket on 127.0.0.1 at a free port.
  static int ListenLoopback();
  // A listening socket on ip:port inside network namespace `ns` (ip netns).
  static int ListenInNamespace(const std::string& ns, const std::string& ip, int port);

 private:
  void Loop();
  std::string body_;
  int fd_;
  std::thread thread_;
  std::mutex mu_;
  std::string received_;                       // guarded by mu_
  std::map<std::string, std::string> routes_;  // guarded by mu_
};

}  // namespace ws::test
