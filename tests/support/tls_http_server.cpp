#include "tests/support/tls_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "tests/support/http_server.h"
#include "tests/support/process.h"

namespace ws::test {
namespace {

constexpr size_t kMaxHead = 64 << 10;
constexpr uint64_t kMaxBody = 16 << 20;
constexpr int kIdleSeconds = 30;

[[noreturn]] void Fail(const std::string& what) {
  char err[256] = "";
  ERR_error_string_n(ERR_get_error(), err, sizeof err);
  throw std::runtime_error(what + ": " + err);
}

std::string Digest(const std::string& data, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!EVP_Digest(data.data(), data.size(), out, &len, md, nullptr)) Fail("EVP_Digest");
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Hex(const std::string& raw) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : raw) s += {digits[c >> 4], digits[c & 15]};
  return s;
}

std::string Base64(const std::string& raw) {
  std::string s(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(s.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  s.resize(static_cast<size_t>(n));
  return s;
}

// --- certificates ---

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  bool ok = ext && X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok) Fail(std::string("extension ") + value);
}

// Self-signed when `issuer` is null. Strict verifiers (Python 3.13, Go)
// want key identifiers and usages on both, hence the full set.
CertPtr MakeCert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key,
                 const std::string& san = "IP:127.0.0.1,DNS:localhost") {
  CertPtr cert(X509_new(), X509_free);
  X509* c = cert.get();
  X509* iss = issuer ? issuer : c;
  X509_set_version(c, X509_VERSION_3);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(c), std::random_device{}() | 1ull << 40);
  X509_gmtime_adj(X509_getm_notBefore(c),
                  -86400);  // a guest clock a little behind still accepts it
  X509_gmtime_adj(X509_getm_notAfter(c), 365L * 86400);
  X509_set_pubkey(c, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(c, X509_get_subject_name(iss));
  if (!issuer) {
    AddExt(c, iss, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(c, iss, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(c, iss, NID_key_usage, "critical,digitalSignature");
    AddExt(c, iss, NID_ext_key_usage, "serverAuth");
    AddExt(c, iss, NID_subject_alt_name, san.c_str());
  }
  AddExt(c, iss, NID_subject_key_identifier, "hash");
  AddExt(c, iss, NID_authority_key_identifier, "keyid:always");
  if (!X509_sign(c, issuer ? issuer_key : key, EVP_sha256())) Fail("X509_sign");
  return cert;
}

template <typename WriteFn>
void WritePem(const std::string& path, WriteFn write) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  bool ok = bio && write(bio);
  BIO_free(bio);
  if (!ok) Fail("writing " + path);
}

void WriteFile(const std::filesystem::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RouteEntry {
  std::string body, content_type, etag;
};

std::shared_ptr<const RouteEntry> MakeRoute(std::string body, std::string content_type) {
  std::string etag = "\"" + Hex(Digest(body, EVP_sha1())) + "\"";
  return std::make_shared<RouteEntry>(
      RouteEntry{std::move(body), std::move(content_type), std::move(etag)});
}

struct LogEntry {
  std::string method, target;
};

std::string StripQuery(const std::string& target) { return target.substr(0, target.find('?')); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void SetTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Buffered reads and whole writes over one TLS connection.
struct Conn {
  explicit Conn(SSL* s) : ssl(s) {}
  SSL* ssl;
  std::string buf;
  bool broken = false;  // no close_notify after an I/O error

  bool Fill() {
    char tmp[16384];
    int n = SSL_read(ssl, tmp, sizeof tmp);
    if (n <= 0) {
      broken = SSL_get_error(ssl, n) != SSL_ERROR_ZERO_RETURN;
      return false;
    }
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  }
  bool Line(std::string& out, size_t max) {
    size_t eol;
    while ((eol = buf.find("\r\n")) == std::string::npos)
      if (buf.size() > max || !Fill()) return false;
    out = buf.substr(0, eol);
    buf.erase(0, eol + 2);
    return true;
  }
  bool Skip(uint64_t n) {
    while (buf.size() < n) {
      n -= buf.size();
      buf.clear();
      if (!Fill()) return false;
    }
    buf.erase(0, n);
    return true;
  }
  bool Write(const std::string& data) {
    if (data.empty() || SSL_write(ssl, data.data(), static_cast<int>(data.size())) > 0) return true;
    broken = true;
    return false;
  }
  // Sends `response`; true when the connection stays open for another request.
  bool Reply(const std::string& response, bool close) { return Write(response) && !close; }
};

// Returns 0 once the body has been read (its length in `bytes`), 413 when
// it is over the limit, -1 when the connection broke.
int ReadBody(Conn& c, const std::map<std::string, std::string>& headers, uint64_t& bytes) {
  bytes = 0;
  auto te = headers.find("transfer-encoding");
  if (te != headers.end() && Lower(te->second).find("chunked") != std::string::npos) {
    std::string line;
    for (;;) {
      if (!c.Line(line, 1024)) return -1;
      uint64_t n = strtoull(line.c_str(), nullptr, 16);  // stops at any ";extension"
      if (n == 0) break;
      if (n > kMaxBody - bytes) return 413;
      if (!c.Skip(n) || !c.Line(line, 2)) return -1;
      bytes += n;
    }
    do {  // trailers
      if (!c.Line(line, kMaxHead)) return -1;
    } while (!line.empty());
    return 0;
  }
  auto cl = headers.find("content-length");
  if (cl == headers.end()) return 0;
  bytes = strtoull(cl->second.c_str(), nullptr, 10);
  if (bytes > kMaxBody) return 413;
  return c.Skip(bytes) ? 0 : -1;
}

std::string Response(int code, const char* reason, const std::string& headers,
                     const std::string& body, bool close) {
  return "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\n" + headers +
         (code == 304 ? "" : "Content-Length: " + std::to_string(body.size()) + "\r\n") +
         (close ? "Connection: close\r\n" : "") + "\r\n";
}

}  // namespace

struct TlsHttpServer::State {
  ~State() {
    SSL_CTX_free(ctx);
    if (listen_fd >= 0) close(listen_fd);
  }
  SSL_CTX* ctx = nullptr;
  int listen_fd = -1;
  int port = 0;
  std::mutex mu;  // guards everything below
  bool stopping = false;
  std::set<int> conns;  // open connection sockets, shut down on stop
  std::map<std::string, std::shared_ptr<const RouteEntry>> routes;
  std::vector<LogEntry> log;
  uint64_t body_bytes = 0;
  int handshakes = 0, handshake_timeouts = 0;
  std::chrono::seconds handshake_timeout{10};

  void Serve(int fd);
  bool Handshake(SSL* ssl, int fd);
  bool ServeOne(Conn& c);
};

TestCa::TestCa(const std::string& dir, const std::vector<std::string>& dns_names) {
  std::filesystem::create_directories(dir);
  ca_ = dir + "/ca.pem";
  cert_ = dir + "/cert.pem";
  key_ = dir + "/key.pem";
  KeyPtr ca_key(EVP_EC_gen("P-256"), EVP_PKEY_free), key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!ca_key || !key) Fail("EVP_EC_gen");
  CertPtr ca = MakeCert(ca_key.get(), "ws test CA", nullptr, nullptr);
  std::string san = "IP:127.0.0.1,DNS:localhost";
  for (const auto& n : dns_names) san += ",DNS:" + n;
  CertPtr cert = MakeCert(key.get(), "localhost", ca.get(), ca_key.get(), san);
  WritePem(ca_, [&](BIO* b) { return PEM_write_bio_X509(b, ca.get()); });
  WritePem(cert_, [&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  WritePem(key_, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
}

TlsHttpServer::TlsHttpServer(const TestCa& ca, int listen_fd) : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.ctx = SSL_CTX_new(TLS_server_method());
  if (!s.ctx || SSL_CTX_use_certificate_chain_file(s.ctx, ca.cert_pem_path().c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(s.ctx, ca.key_pem_path().c_str(), SSL_FILETYPE_PEM) != 1)
    Fail("server SSL_CTX");
  s.listen_fd = listen_fd >= 0 ? listen_fd : RecordingHttpServer::ListenLoopback();
  if (s.listen_fd < 0) throw std::runtime_error("listen failed");
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&a), &len);
  s.port = ntohs(a.sin_port);
  accept_thread_ = std::thread([st = state_] {
    for (;;) {
      int fd = accept4(st->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0 && (errno == EINTR || errno == ECONNABORTED)) continue;
      if (fd < 0) return;
      std::lock_guard lock(st->mu);
      if (st->stopping) {
        close(fd);
        return;
      }
      st->conns.insert(fd);
      std::thread([st, fd] { st->Serve(fd); }).detach();
    }
  });
}

TlsHttpServer::~TlsHttpServer() {
  {
    // Wakes accept and every connection's blocked read; the threads close
    // their own sockets and the last one out frees the state.
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
    shutdown(state_->listen_fd, SHUT_RDWR);
    for (int fd : state_->conns) shutdown(fd, SHUT_RDWR);
  }
  accept_thread_.join();
}

void TlsHttpServer::State::Serve(int fd) {
  // A peer gone mid-write must give EPIPE, not kill the test binary; blocked
  // on this thread only, so children spawned elsewhere keep SIGPIPE.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (Handshake(ssl, fd)) {
    SetTimeouts(fd, kIdleSeconds);
    Conn c(ssl);
    while (ServeOne(c)) {
    }
    if (!c.broken) SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  {
    std::lock_guard lock(mu);  // before close: the number may be reused at once
    conns.erase(fd);
  }
  close(fd);
}

// Non-blocking with a deadline for the whole handshake, so a client sending
// a byte now and then cannot hold it open past the timeout.
bool TlsHttpServer::State::Handshake(SSL* ssl, int fd) {
  std::chrono::steady_clock::time_point deadline;
  {
    std::lock_guard lock(mu);
    deadline = std::chrono::steady_clock::now() + handshake_timeout;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  for (;;) {
    ERR_clear_error();
    int r = SSL_accept(ssl);
    if (r == 1) break;
    int err = SSL_get_error(ssl, r);
    short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (!events) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, events, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
      std::lock_guard lock(mu);
      ++handshake_timeouts;
      return false;
    }
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::lock_guard lock(mu);
  ++handshakes;
  return true;
}

// One request and its response; false when the connection is to close.
bool TlsHttpServer::State::ServeOne(Conn& c) {
  size_t end;
  while ((end = c.buf.find("\r\n\r\n")) == std::string::npos) {
    if (c.buf.size() > kMaxHead)
      return c.Reply(Response(431, "Request Header Fields Too Large", "", "", true), true);
    if (!c.Fill()) return false;
  }
  std::istringstream head(c.buf.substr(0, end + 2));
  c.buf.erase(0, end + 4);
  std::string line, method, target, version;
  std::getline(head, line);
  std::istringstream(line) >> method >> target >> version;
  if (version.rfind("HTTP/1.", 0) != 0)
    return c.Reply(Response(400, "Bad Request", "", "", true), true);
  std::map<std::string, std::string> headers;
  while (std::getline(head, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    size_t v = line.find_first_not_of(" \t", colon + 1);
    size_t e = line.find_last_not_of(" \t\r");
    headers[Lower(line.substr(0, colon))] =
        v == std::string::npos || e < v ? "" : line.substr(v, e - v + 1);
  }
  std::string conn = Lower(headers["connection"]);
  bool close = conn.find("close") != std::string::npos ||
               (version == "HTTP/1.0" && conn.find("keep-alive") == std::string::npos);

  uint64_t bytes = 0;
  int body = ReadBody(c, headers, bytes);
  std::shared_ptr<const RouteEntry> route;
  {
    std::lock_guard lock(mu);
    log.push_back({method, target});
    body_bytes += bytes;
    if (auto it = routes.find(StripQuery(target)); it != routes.end()) route = it->second;
  }
  if (body < 0) return false;
  if (body == 413) return c.Reply(Response(413, "Content Too Large", "", "", true), true);

  if (method != "GET" && method != "HEAD")
    return c.Reply(Response(405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "", close), close);
  if (!route) {
    std::string msg = "not found\n";
    std::string resp = Response(404, "Not Found", "Content-Type: text/plain\r\n", msg, close);
    return c.Reply(method == "HEAD" ? resp : resp + msg, close);
  }
  std::string common = "ETag: " + route->etag + "\r\n";
  const std::string& inm = headers["if-none-match"];
  if (inm == "*" || inm.find(route->etag) != std::string::npos)
    return c.Reply(Response(304, "Not Modified", common, "", close), close);
  common += "Content-Type: " + route->content_type + "\r\n";
  // Head and body written apart: no 16 MiB concatenation per request.
  if (!c.Write(Response(200, "OK", common, route->body, close))) return false;
  return c.Reply(method == "GET" ? route->body : "", close);
}

int TlsHttpServer::port() const { return state_->port; }

void TlsHttpServer::Route(const std::string& path, std::string body, std::string content_type) {
  auto route = MakeRoute(std::move(body), std::move(content_type));
  std::lock_guard lock(state_->mu);
  state_->routes[path] = std::move(route);
}

void TlsHttpServer::CorruptRoute(const std::string& path) {
  std::lock_guard lock(state_->mu);
  auto it = state_->routes.find(path);
  if (it == state_->routes.end() || it->second->body.empty())
    throw std::runtime_error("no body to corrupt at " + path);
  // A new entry rather than an edit: responses being sent hold the old one.
  // In a gzip file the byte is one of the header's MTIME, so the body still
  // inflates and a client reports the digest mismatch, not a zlib error.
  std::string body = it->second->body;
  bool gzip = body.size() > 10 && body.compare(0, 2, "\x1f\x8b") == 0;
  body[gzip ? 4 : body.size() / 2] ^= 0x5a;
  it->second = MakeRoute(std::move(body), it->second->content_type);
}

void TlsHttpServer::SetHandshakeTimeout(std::chrono::seconds timeout) {
  std::lock_guard lock(state_->mu);
  state_->handshake_timeout = timeout;
}

int TlsHttpServer::Requests(const std::string& method, const std::string& path) {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(
      std::count_if(state_->log.begin(), state_->log.end(), [&](const LogEntry& e) {
        return e.method == method && (e.target == path || StripQuery(e.target) == path);
      }));
}

uint64_t TlsHttpServer::BodyBytesReceived() {
  std::lock_guard lock(state_->mu);
  return state_->body_bytes;
}

std::vector<std::string> TlsHttpServer::Log() {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& e : state_->log) out.push_back(e.method + " " + e.target);
  return out;
}

int TlsHttpServer::HandshakesCompleted() {
  std::lock_guard lock(state_->mu);
  return state_->handshakes;
}

int TlsHttpServer::HandshakesTimedOut() {
  std::lock_guard lock(state_->mu);
  return state_->handshake_timeouts;
}

void TlsHttpServer::ResetLog() {
  std::lock_guard lock(state_->mu);
  state_->log.clear();
  state_->body_bytes = 0;
  state_->handshakes = state_->handshake_timeouts = 0;
}

std::vector<FakeNpmPackage> AddFakeNpmPackages(TlsHttpServer& server, const std::string& work_dir,
                                               int count, const std::string& tarball_base_url) {
  std::vector<FakeNpmPackage> out;
  for (int i = 1; i <= count; ++i) {
    char buf[32];
    snprintf(buf, sizeof buf, "wspkg-%04d", i);
    FakeNpmPackage p;
    p.name = buf;
    p.version = "1.0.0";
    std::filesystem::path dir = std::filesystem::path(work_dir) / p.name;
    std::filesystem::create_directories(dir / "package");
    WriteFile(dir / "package/package.json", R"({"name":")" + p.name +
                                                R"(","version":"1.0.0","main":"index.js"})"
                                                "\n");
    WriteFile(dir / "package/index.js", "module.exports = \"" + p.name + "\";\n");
    std::string tgz = (dir / (p.name + "-1.0.0.tgz")).string();
    RunResult r = Run({"tar", "-czf", tgz, "-C", dir.string(), "package"});
    if (r.code != 0) throw std::runtime_error("tar for " + p.name + ": " + r.err);
    std::string tarball = ReadFile(tgz);
    p.tarball_path = "/" + p.name + "/-/" + p.name + "-1.0.0.tgz";
    p.tarball = tarball_base_url + p.name + "/-/" + p.name + "-1.0.0.tgz";
    p.integrity = "sha512-" + Base64(Digest(tarball, EVP_sha512()));
    p.shasum = Hex(Digest(tarball, EVP_sha1()));
    std::string dist = R"({"tarball":")" + p.tarball + R"(","integrity":")" + p.integrity +
                       R"(","shasum":")" + p.shasum + R"("})";
    server.Route("/" + p.name,
                 R"({"name":")" + p.name +
                     R"(","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":")" + p.name +
                     R"(","version":"1.0.0","dist":)" + dist + "}}}",
                 "application/json");
    server.Route(p.tarball_path, std::move(tarball), "application/octet-stream");
    out.push_back(std::move(p));
  }
  return out;
}

FakeNpmPackage AddNpmTarball(TlsHttpServer& server, const std::string& name,
                             const std::string& version, const std::string& tarball_file,
                             const std::string& tarball_base_url, const std::string& manifest) {
  FakeNpmPackage p;
  p.name = name;
  p.version = version;
  std::string tarball = ReadFile(tarball_file);
  if (tarball.empty()) throw std::runtime_error("no tarball at " + tarball_file);
  const std::string base = name.substr(name.find('/') + 1);  // @scope/x -> x
  p.tarball_path = "/" + name + "/-/" + base + "-" + version + ".tgz";
  p.tarball = tarball_base_url + p.tarball_path.substr(1);
  p.integrity = "sha512-" + Base64(Digest(tarball, EVP_sha512()));
  p.shasum = Hex(Digest(tarball, EVP_sha1()));
  const std::string packument =
      R"({"name":")" + name + R"(","dist-tags":{"latest":")" + version + R"("},"versions":{")" +
      version + R"(":{"name":")" + name + R"(","version":")" + version + "\"," +
      (manifest.empty() ? "" : manifest + ",") + R"("dist":{"tarball":")" + p.tarball +
      R"(","integrity":")" + p.integrity + R"(","shasum":")" + p.shasum + R"("}}}})";
  server.Route("/" + name, packument, "application/json");
  if (const size_t slash = name.find('/'); name[0] == '@' && slash != std::string::npos) {
    // npm asks for a scoped packument with its slash escaped, either case.
    server.Route("/" + name.substr(0, slash) + "%2f" + base, packument, "application/json");
    server.Route("/" + name.substr(0, slash) + "%2F" + base, packument, "application/json");
  }
  server.Route(p.tarball_path, std::move(tarball), "application/octet-stream");
  return p;
}

std::string FakeNpmProjectJson(const std::vector<FakeNpmPackage>& packages) {
  std::string deps;
  for (const auto& p : packages)
    deps += (deps.empty() ? "\n    \"" : ",\n    \"") + p.name + "\": \"^1.0.0\"";
  return "{\n  \"name\": \"wsproj\",\n  \"version\": \"1.0.0\",\n  \"private\": true,\n  "
         "\"dependencies\": {" +
         deps + "\n  }\n}\n";
}

}  // namespace ws::test
