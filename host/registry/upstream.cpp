#include "host/registry/upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "host/common/ssl_errors.h"
#include "host/common/tcp_connect.h"
#include "host/common/unique_fd.h"

namespace ws::registry {
namespace {

constexpr int kConnectSeconds = 10;
constexpr int kReadSeconds = 60;

std::string SslError(const std::string& what) { return what + ": " + SslErrors(); }

Result<unique_fd> Connect(const Url& u) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(u.port);
  if (int rc = getaddrinfo(u.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status(Code::kUnavailable, "cannot resolve " + u.host + ": " + gai_strerror(rc));
  }
  Status last(Code::kUnavailable, "no address for " + u.host);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    auto fd = ConnectTcp(ai->ai_addr, ai->ai_addrlen, kConnectSeconds * 1000);
    if (!fd.ok()) {
      last = Status(Code::kUnavailable,
                    "connecting to " + u.host + ":" + port + ": " + fd.status().message());
      continue;
    }
    timeval tv{kReadSeconds, 0};
    setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    freeaddrinfo(res);
    return fd;
  }
  freeaddrinfo(res);
  return last;
}

// One connection: plain or TLS.
struct Conn {
  unique_fd fd;
  SSL* ssl = nullptr;
  ~Conn() {
    if (ssl) SSL_free(ssl);
  }
  bool Write(std::string_view d) {
    while (!d.empty()) {
      int n = ssl ? SSL_write(ssl, d.data(), static_cast<int>(d.size()))
                  : static_cast<int>(send(fd.get(), d.data(), d.size(), MSG_NOSIGNAL));
      if (n <= 0) return false;
      d.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // >0 bytes, 0 at the end, <0 on error.
  int Read(char* buf, int n) {
    if (!ssl) return static_cast<int>(recv(fd.get(), buf, static_cast<size_t>(n), 0));
    int r = SSL_read(ssl, buf, n);
    if (r > 0) return r;
    int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
};

struct ParseState {
  Response* resp = nullptr;
  HeaderCollector headers;
  bool headers_done = false;
  bool complete = false;
  uint64_t body = 0;
  uint64_t max_body = 0;
  bool too_big = false;
  bool sink_failed = false;
  const std::function<bool(std::string_view)>* on_body = nullptr;
};

}  // namespace

Result<Url> ParseUrl(const std::string& url) {
  Url u;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    u.tls = false;
    u.port = 80;
    rest = url.substr(7);
  } else {
    return Status(Code::kInvalidArgument, "'" + url + "' is not an http:// or https:// URL");
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos) {
    return Status(Code::kInvalidArgument, "'" + url + "' has no host, or user info");
  }
  std::string port;
  if (authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos)
      return Status(Code::kInvalidArgument, "bad IPv6 host in '" + url + "'");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return Status(Code::kInvalidArgument, "bad host in '" + url + "'");
      port = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) == 0 || std::stoi(port) > 65535) {
      return Status(Code::kInvalidArgument, "bad port in '" + url + "'");
    }
    u.port = static_cast<uint16_t>(std::stoi(port));
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f)
      return Status(Code::kInvalidArgument, "a URL holds a space or a control character");
  }
  return u;
}

Result<std::shared_ptr<Upstream>> Upstream::Make(const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return Status(Code::kInternal, SslError("TLS context"));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    SSL_CTX_free(ctx);
    return Status(Code::kInternal, SslError("the system's trust store"));
  }
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    SSL_CTX_free(ctx);
    return Status(Code::kInvalidArgument, SslError("CA file " + ca_file));
  }
  return std::shared_ptr<Upstream>(new Upstream(ctx));
}

Upstream::~Upstream() { SSL_CTX_free(ctx_); }

Result<Response> Upstream::Fetch(const std::string& method, const std::string& url,
                                 const Headers& headers, uint64_t max_body,
                                 const std::function<bool(std::string_view)>& on_body) {
  auto u = ParseUrl(url);
  if (!u.ok()) return u.status();
  auto fd = Connect(u.value());
  if (!fd.ok()) return fd.status();
  Conn c;
  c.fd = std::move(fd.value());
  if (u->tls) {
    c.ssl = SSL_new(ctx_);
    if (!c.ssl) return Status(Code::kInternal, SslError("TLS session"));
    SSL_set_fd(c.ssl, c.fd.get());
    in6_addr a6;
    in_addr a4;
    const bool literal = inet_pton(AF_INET, u->host.c_str(), &a4) == 1 ||
                         inet_pton(AF_INET6, u->host.c_str(), &a6) == 1;
    X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl);
    if (literal) {
      X509_VERIFY_PARAM_set1_ip_asc(param, u->host.c_str());
    } else {
      SSL_set_tlsext_host_name(c.ssl, u->host.c_str());
      X509_VERIFY_PARAM_set1_host(param, u->host.c_str(), 0);
    }
    if (SSL_connect(c.ssl) != 1) {
      long v = SSL_get_verify_result(c.ssl);
      if (v != X509_V_OK) {
        return Status(Code::kUnavailable, "the certificate of " + u->host + " is not trusted: " +
                                              X509_verify_cert_error_string(v));
      }
      return Status(Code::kUnavailable, SslError("TLS with " + u->host));
    }
  }
  const bool default_port = u->port == (u->tls ? 443 : 80);
  std::string host = u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host;
  std::string req = method + " " + u->path + " HTTP/1.1\r\nHost: " + host +
                    (default_port ? "" : ":" + std::to_string(u->port)) + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "User-Agent: workspace-registry\r\nConnection: close\r\n\r\n";
  if (!c.Write(req)) return Status(Code::kUnavailable, "sending the request to " + u->host);

  Response resp;
  ParseState st;
  st.resp = &resp;
  st.headers.out = &resp.headers;
  st.max_body = max_body;
  st.on_body = &on_body;
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = &st;
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_header_field = [](http_parser* p, const char* at, size_t n) {
    static_cast<ParseState*>(p->data)->headers.Field(at, n);
    return 0;
  };
  s.on_header_value = [](http_parser* p, const char* at, size_t n) {
    static_cast<ParseState*>(p->data)->headers.Value(at, n);
    return 0;
  };
  s.on_headers_complete = [](http_parser* p) {
    auto* st = static_cast<ParseState*>(p->data);
    st->headers.Flush();
    st->headers_done = true;
    st->resp->status = p->status_code;
    return 0;
  };
  s.on_body = [](http_parser* p, const char* at, size_t n) {
    auto* st = static_cast<ParseState*>(p->data);
    st->body += n;
    if (st->body > st->max_body) {
      st->too_big = true;
      return 1;
    }
    if (!(*st->on_body)(std::string_view(at, n))) {
      st->sink_failed = true;
      return 1;
    }
    return 0;
  };
  s.on_message_complete = [](http_parser* p) {
    static_cast<ParseState*>(p->data)->complete = true;
    return 0;
  };
  char buf[64 * 1024];
  for (;;) {
    int n = c.Read(buf, sizeof buf);
    if (n < 0)
      return Status(Code::kUnavailable, "reading from " + u->host + " failed or timed out");
    if (method == "HEAD" && st.headers_done) break;
    http_parser_execute(&parser, &s, buf, static_cast<size_t>(n));  // n == 0 tells it of the end
    if (st.too_big)
      return Status(Code::kResourceExhausted, "the response of " + u->host + " is too large");
    if (st.sink_failed) return Status(Code::kInternal, "storing the response of " + u->host);
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
      return Status(Code::kUnavailable, std::string("a malformed response from ") + u->host + ": " +
                                            http_errno_description(HTTP_PARSER_ERRNO(&parser)));
    }
    if (st.complete || (method == "HEAD" && st.headers_done)) break;
    if (n == 0) return Status(Code::kUnavailable, u->host + " closed the connection mid-response");
  }
  return resp;
}

}  // namespace ws::registry
