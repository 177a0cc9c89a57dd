#include "host/registry/http.h"

#include <errno.h>
#include <http_parser.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

namespace ws::registry {
namespace {

struct HeadState {
  Request* req = nullptr;
  HeaderCollector headers;
  std::string url;
  bool done = false;
};

int OnUrl(http_parser* p, const char* at, size_t n) {
  static_cast<HeadState*>(p->data)->url.append(at, n);
  return 0;
}
int OnField(http_parser* p, const char* at, size_t n) {
  static_cast<HeadState*>(p->data)->headers.Field(at, n);
  return 0;
}
int OnValue(http_parser* p, const char* at, size_t n) {
  static_cast<HeadState*>(p->data)->headers.Value(at, n);
  return 0;
}
int OnHeadersComplete(http_parser* p) {
  auto* s = static_cast<HeadState*>(p->data);
  s->headers.Flush();
  s->done = true;
  s->req->method = http_method_str(static_cast<http_method>(p->method));
  s->req->keep_alive = http_should_keep_alive(p) != 0;
  s->req->has_body =
      (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX);
  http_parser_pause(p, 1);  // the body, if any, is not ours to read here
  return 0;
}

}  // namespace

void HeaderCollector::Field(const char* at, size_t n) {
  if (in_value) {
    Flush();
    in_value = false;
  }
  field.append(at, n);
}

void HeaderCollector::Value(const char* at, size_t n) {
  in_value = true;
  value.append(at, n);
}

void HeaderCollector::Flush() {
  if (field.empty()) return;
  std::transform(field.begin(), field.end(), field.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  (*out)[field] = value;
  field.clear();
  value.clear();
}

Result<Request> ReadRequest(int fd, std::string* buffer) {
  Request req;
  HeadState st;
  st.req = &req;
  st.headers.out = &req.headers;
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &st;
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_url = OnUrl;
  settings.on_header_field = OnField;
  settings.on_header_value = OnValue;
  settings.on_headers_complete = OnHeadersComplete;
  size_t fed = 0;
  for (;;) {
    if (fed < buffer->size()) {
      size_t n =
          http_parser_execute(&parser, &settings, buffer->data() + fed, buffer->size() - fed);
      fed += n;
      if (fed > kMaxRequestHead) return Status(Code::kInvalidArgument, "request head over 16 KiB");
      if (st.done) {
        // Paused in on_headers_complete, the parser has not counted the head's last LF.
        if (fed < buffer->size() && (*buffer)[fed] == '\n') ++fed;
        buffer->erase(0, fed);
        break;
      }
      if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
        return Status(Code::kInvalidArgument,
                      std::string("malformed request: ") +
                          http_errno_description(HTTP_PARSER_ERRNO(&parser)));
      }
    }
    if (fed > kMaxRequestHead) return Status(Code::kInvalidArgument, "request head over 16 KiB");
    char chunk[8192];
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (fed == 0 && buffer->empty()) return Status(Code::kNotFound, "closed");
      return Status(Code::kInvalidArgument, "connection closed inside a request head");
    }
    buffer->append(chunk, static_cast<size_t>(n));
  }
  // Absolute form (a client that thinks we are a proxy) is taken as origin form.
  std::string target = st.url;
  if (target.rfind("http://", 0) == 0) {
    auto slash = target.find('/', 7);
    req.authority = target.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
    for (auto& c : req.authority) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    target = slash == std::string::npos ? "/" : target.substr(slash);
  }
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  return req;
}

std::string Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool WriteResponse(int fd, int status, const Headers& headers, std::string_view body,
                   bool keep_alive, bool head_only, uint64_t content_length) {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
  for (const auto& [k, v] : headers) h += k + ": " + v + "\r\n";
  if (status != 304) h += "Content-Length: " + std::to_string(content_length) + "\r\n";
  h += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!head_only && status != 304 && body.size() < 64 * 1024) {
    h.append(body);
    return WriteAll(fd, h);
  }
  return WriteAll(fd, h) && (head_only || status == 304 || WriteAll(fd, body));
}

bool WriteText(int fd, int status, const std::string& message, bool keep_alive, bool head_only) {
  const std::string body = "workspace: " + message + "\n";
  return WriteResponse(fd, status, {{"Content-Type", "text/plain; charset=utf-8"}}, body,
                       keep_alive, head_only, body.size());
}

}  // namespace ws::registry
