// Test support: an HTTPS server on 127.0.0.1 with a throwaway CA, serving
// routed bodies over HTTP/1.1 keep-alive and recording what it was asked,
// plus fake npm packages (packuments and real tarballs) to serve from it.
// Setup failures throw std::runtime_error (gtest reports the message).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ws::test {

// A self-signed CA and a server certificate for 127.0.0.1 and localhost
// (and `dns_names`) signed by it, written as PEM files into `dir` (created
// if missing).
class TestCa {
 public:
  explicit TestCa(const std::string& dir, const std::vector<std::string>& dns_names = {});
  const std::string& ca_pem_path() const { return ca_; }
  const std::string& cert_pem_path() const { return cert_; }
  const std::string& key_pem_path() const { return key_; }

 private:
  std::string ca_, cert_, key_;
};

class TlsHttpServer {
 public:
  // On 127.0.0.1 at a free port, or on `listen_fd` (bound and listening,
  // e.g. in a test network namespace; the server closes it).
  explicit TlsHttpServer(const TestCa& ca, int listen_fd = -1);
  ~TlsHttpServer();
  TlsHttpServer(const TlsHttpServer&) = delete;
  TlsHttpServer& operator=(const TlsHttpServer&) = delete;

  int port() const;
  // GET/HEAD `path` (any query string ignored) answer `body` from now on.
  void Route(const std::string& path, std::string body, std::string content_type = "text/plain");
  // Flips one byte of the route's body (its ETag follows).
  void CorruptRoute(const std::string& path);
  // For connections accepted from now on (default 10 s).
  void SetHandshakeTimeout(std::chrono::seconds timeout);

  // Requests whose target, or target without its query, is `path`.
  int Requests(const std::string& method, const std::string& path);
  uint64_t BodyBytesReceived();
  std::vector<std::string> Log();  // "METHOD TARGET" per request, in order
  int HandshakesCompleted();
  int HandshakesTimedOut();
  // Clears the log and every counter above.
  void ResetLog();

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the detached connection threads
  std::thread accept_thread_;
};

struct FakeNpmPackage {
  std::string name, version;
  std::string tarball;       // its URL, as in the packument's dist.tarball
  std::string tarball_path;  // its route on the server (for CorruptRoute)
  std::string integrity;     // sha512-BASE64
  std::string shasum;        // sha1 hex
};

// Packages wspkg-0001.. (version 1.0.0), their tarballs built under
// `work_dir`, routed on `server` at /<name> and /<name>/-/<name>-1.0.0.tgz.
// `tarball_base_url` ends with '/', e.g. "https://127.0.0.1:PORT/".
std::vector<FakeNpmPackage> AddFakeNpmPackages(TlsHttpServer& server, const std::string& work_dir,
                                               int count, const std::string& tarball_base_url);
// A real package's tarball file (e.g. a fixture fetched from npm) served as
// NAME@VERSION (scoped names too) at /NAME and /NAME/-/BASENAME-VERSION.tgz;
// `manifest` is more JSON members for the version's manifest (bin,
// scripts, optionalDependencies...), without braces.
FakeNpmPackage AddNpmTarball(TlsHttpServer& server, const std::string& name,
                             const std::string& version, const std::string& tarball_file,
                             const std::string& tarball_base_url, const std::string& manifest);

// A package.json depending on all of them at ^1.0.0.
std::string FakeNpmProjectJson(const std::vector<FakeNpmPackage>& packages);

}  // namespace ws::test
