#include "host/net/http_requests.h"

#include <http_parser.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace ws::net {
namespace {

// Most bytes of a refused request's body read (and dropped) so its client
// gets to read the refusal; past it the connection ends at once.
constexpr uint64_t kMaxDrainedBody = 64 * 1024 * 1024;

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 421:
      return "Misdirected Request";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    default:
      return "Refused";
  }
}

}  // namespace

std::vector<std::string> RequestHead::All(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& h : headers) {
    if (IEquals(h.name, name)) out.push_back(h.value);
  }
  return out;
}

std::string RequestHead::Serialize() const {
  std::string s = method + " " + target + " HTTP/1." + std::to_string(minor) + "\r\n";
  for (const auto& h : headers) s += h.name + ": " + h.value + "\r\n";
  return s + "\r\n";
}

bool IsHttpTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos);
}

std::string RefusalResponse(const Refusal& r) {
  if (!r.response.empty()) return r.response;
  const std::string body = "workspace: " + r.reason + "\n";
  return "HTTP/1.1 " + std::to_string(r.status) + " " + ReasonPhrase(r.status) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

struct HttpRequestFilter::Impl {
  enum class State { kHead, kBody, kEnded };

  explicit Impl(GatedCheck c) : check(std::move(c)) {
    http_parser_settings_init(&settings);
    settings.on_url = [](http_parser* p, const char* at, size_t n) {
      static_cast<Impl*>(p->data)->head.target.append(at, n);
      return 0;
    };
    settings.on_header_field = [](http_parser* p, const char* at, size_t n) {
      auto* self = static_cast<Impl*>(p->data);
      if (self->state == State::kBody) return 0;  // a trailer: dropped
      if (self->in_value && !self->FlushHeader()) return 1;
      self->field.append(at, n);
      return 0;
    };
    settings.on_header_value = [](http_parser* p, const char* at, size_t n) {
      auto* self = static_cast<Impl*>(p->data);
      if (self->state == State::kBody) return 0;
      self->in_value = true;
      self->value.append(at, n);
      return 0;
    };
    settings.on_headers_complete = [](http_parser* p) {
      auto* self = static_cast<Impl*>(p->data);
      if (self->in_value && !self->FlushHeader()) return -1;
      self->headers_done = true;
      return 0;
    };
    // A chunked body goes on re-framed: each chunk's data as "SIZE CRLF DATA
    // CRLF", extensions and trailers dropped, so no server can read its
    // framing another way than http_parser did.
    settings.on_body = [](http_parser* p, const char* at, size_t n) {
      auto* self = static_cast<Impl*>(p->data);
      if (self->draining) return 0;
      if (self->holding) {
        self->held_body.append(at, n);
        return 0;
      }
      if (self->tap && n > 0) {
        self->tapped = self->tap(std::string_view(at, n));
        if (!self->tapped.empty()) return 1;  // this piece and the rest stay here
      }
      if (self->chunked && self->body_out && n > 0) {
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", n);
        self->body_out->append(size);
        self->body_out->append(at, n);
        self->body_out->append("\r\n");
      }
      return 0;
    };
    settings.on_message_complete = [](http_parser* p) {
      auto* self = static_cast<Impl*>(p->data);
      self->message_done = true;
      // In a body, stop right after it: what follows is the next head.
      if (self->state == State::kBody) http_parser_pause(p, 1);
      return 0;
    };
  }

  bool FlushHeader() {
    in_value = false;
    if (head.headers.size() >= kMaxRequestHeaders) {
      too_many_headers = true;
      return false;
    }
    head.headers.push_back({field, Trim(value)});
    field.clear();
    value.clear();
    return true;
  }

  bool Refuse(int status, std::string reason, std::string response = "") {
    refusal = {status, std::move(reason), std::move(response)};
    state = State::kEnded;
    return false;
  }

  // Bytes of the head `raw` (it ends with CRLF CRLF) that no reading of
  // HTTP may take two ways.
  bool CheckRawHead(std::string_view raw) {
    for (size_t i = 0; i < raw.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(raw[i]);
      if (c == '\r' && (i + 1 == raw.size() || raw[i + 1] != '\n')) {
        return Refuse(400, "a bare CR in the request head");
      }
      if (c == '\n' && (i == 0 || raw[i - 1] != '\r')) {
        return Refuse(400, "a bare LF in the request head");
      }
      if (c == '\n' && i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t')) {
        return Refuse(400, "a folded header line (obs-fold) in the request head");
      }
      if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
        return Refuse(400, "a control character in the request head");
      }
    }
    return true;
  }

  // The framing rules, on the head's lines as sent (http_parser stops at
  // the first breach, before its headers are all seen).
  bool CheckFraming(std::string_view raw) {
    size_t lengths = 0, codings = 0, hosts = 0;
    bool chunked_only = true;
    size_t at = raw.find("\r\n") + 2;  // past the request line
    while (at < raw.size()) {
      const size_t end = raw.find("\r\n", at);
      const std::string_view line = raw.substr(at, end - at);
      at = end + 2;
      if (line.empty()) continue;  // the blank line
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return Refuse(400, "a header line without a name and a colon");
      }
      const std::string_view name = line.substr(0, colon);
      for (char c : name) {
        // A name is a token right before its colon: "Host : x" is not Host
        // here, and a server that trims it would frame the request another way.
        if (!IsHttpTokenChar(c)) return Refuse(400, "a header name that is not a token");
      }
      if (IEquals(name, "content-length")) ++lengths;
      if (IEquals(name, "host")) ++hosts;
      if (IEquals(name, "transfer-encoding")) {
        ++codings;
        chunked_only =
            chunked_only && IEquals(Trim(std::string(line.substr(colon + 1))), "chunked");
      }
    }
    if (lengths > 1) return Refuse(400, "more than one Content-Length");
    if (lengths && codings) return Refuse(400, "both Content-Length and Transfer-Encoding");
    if (codings > 1 || !chunked_only) return Refuse(400, "a transfer coding other than chunked");
    if (hosts > 1) return Refuse(400, "more than one Host header");
    return true;
  }

  // A whole head in `raw`: parsed, checked and passed on (or refused).
  bool TakeHead(std::string_view raw, std::string* out) {
    if (!CheckRawHead(raw) || !CheckFraming(raw)) return false;
    head = RequestHead{};
    field.clear();
    value.clear();
    in_value = headers_done = message_done = too_many_headers = false;
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
    const size_t n = http_parser_execute(&parser, &settings, raw.data(), raw.size());
    if (too_many_headers) {
      return Refuse(431, "more than " + std::to_string(kMaxRequestHeaders) + " header lines");
    }
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK || !headers_done) {
      return Refuse(400, std::string("a malformed request head (") +
                             http_errno_description(HTTP_PARSER_ERRNO(&parser)) + ")");
    }
    head.method = http_method_str(static_cast<http_method>(parser.method));
    head.minor = parser.http_minor;
    if (parser.http_major != 1 || parser.http_minor > 1) {
      return Refuse(400, "only HTTP/1.0 and HTTP/1.1 requests are passed on");
    }
    if (parser.http_minor == 0 && !head.All("transfer-encoding").empty()) {
      return Refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (parser.method == HTTP_CONNECT) return Refuse(405, "CONNECT inside a connection");
    if (parser.method == HTTP_TRACE) return Refuse(405, "TRACE is refused (it echoes headers)");
    if (parser.upgrade) return Refuse(501, "protocol upgrades are not passed on");
    if (head.target.size() > 7 && IEquals(head.target.substr(0, 7), "http://")) {
      const std::string rest = head.target.substr(7);
      const size_t end = rest.find_first_of("/?#");
      head.authority = rest.substr(0, end);
      if (head.authority.empty() || head.authority.find('@') != std::string::npos) {
        return Refuse(400, "a request URL with user information or no host");
      }
      head.target = end == std::string::npos ? "/" : rest.substr(end);
      if (head.target[0] != '/') head.target.insert(0, "/");
    }
    if (!(head.target.size() >= 1 && head.target[0] == '/') &&
        !(head.target == "*" && parser.method == HTTP_OPTIONS)) {
      return Refuse(400, "a request target that is not a path (send origin form: GET /path)");
    }
    if (n != raw.size()) return Refuse(400, "a malformed request head");
    gate = BodyGate{};
    Refusal r = check(&head, &gate);
    if (r.status != 0) return Refuse(r.status, std::move(r.reason), std::move(r.response));
    chunked = (parser.flags & F_CHUNKED) != 0;
    holding = static_cast<bool>(gate.check);
    if (holding) {
      if (!head.All("content-encoding").empty()) {
        return Refuse(415,
                      "a request whose body the host reads must not be compressed "
                      "(Content-Encoding)");
      }
      // The server does not see the head before the body: it cannot say
      // 100 Continue (the client sends on after its own wait).
      head.headers.erase(
          std::remove_if(head.headers.begin(), head.headers.end(),
                         [](const HttpHeader& h) { return IEquals(h.name, "expect"); }),
          head.headers.end());
      held_head = head.Serialize();
      held_body.clear();
    } else {
      out->append(head.Serialize());
      ++requests;
    }
    state = message_done ? State::kHead : State::kBody;
    return !holding || Judge(out);
  }

  // A held request: passed on (head, then the body so far in its framing),
  // held on, or refused (the rest of its body then read and dropped).
  bool Judge(std::string* out) {
    Refusal r;
    switch (gate.check(held_body, message_done, &r)) {
      case BodyVerdict::kNeedMore:
        if (held_body.size() > gate.limit) {
          return Drain({413, "a request body over " + std::to_string(gate.limit / 1024) +
                                 " KiB where the host must read it whole"});
        }
        if (message_done) return Drain({400, "a request body the host could not read"});
        return true;
      case BodyVerdict::kRefuse:
        return Drain(std::move(r));
      case BodyVerdict::kPass:
        break;
    }
    holding = false;
    if (tap && !held_body.empty()) {
      if (std::string why = tap(held_body); !why.empty()) return Refuse(403, std::move(why));
    }
    out->append(held_head);
    if (chunked && !held_body.empty()) {
      char size[20];
      std::snprintf(size, sizeof size, "%zx\r\n", held_body.size());
      out->append(size);
      out->append(held_body);
      out->append("\r\n");
    } else if (!chunked) {
      out->append(held_body);
    }
    held_head.clear();
    held_body.clear();
    ++requests;
    return true;
  }

  // Refuses the held request once its body has all come (at once if it has).
  bool Drain(Refusal r) {
    holding = false;
    held_head.clear();
    held_body.clear();
    if (message_done || state != State::kBody) {
      return Refuse(r.status, std::move(r.reason), std::move(r.response));
    }
    draining = true;
    drained_refusal = std::move(r);
    return true;
  }

  GatedCheck check;
  HttpRequestFilter::BodyTap tap;
  std::string tapped;    // the tap's refusal of the body under way
  BodyGate gate;         // the request under way's
  bool holding = false;  // its head and body are held for the gate
  std::string held_head, held_body;
  bool draining = false;  // refused by the gate: its body is read and dropped
  uint64_t drained = 0;
  Refusal drained_refusal;
  http_parser parser{};
  http_parser_settings settings{};
  State state = State::kHead;
  std::string pending;  // bytes of the head being read
  RequestHead head;
  std::string field, value;
  bool in_value = false, headers_done = false, message_done = false, too_many_headers = false;
  bool chunked = false;             // the body under way is chunked
  std::string* body_out = nullptr;  // where a chunked body's re-framed bytes go
  Refusal refusal;
  int requests = 0;
};

HttpRequestFilter::HttpRequestFilter(Check check)
    : impl_(std::make_unique<Impl>(
          [check = std::move(check)](RequestHead* head, BodyGate*) { return check(head); })) {}
HttpRequestFilter::HttpRequestFilter(GatedCheck check)
    : impl_(std::make_unique<Impl>(std::move(check))) {}
HttpRequestFilter::~HttpRequestFilter() = default;

void HttpRequestFilter::SetBodyTap(BodyTap tap) { impl_->tap = std::move(tap); }

const Refusal& HttpRequestFilter::refusal() const { return impl_->refusal; }
int HttpRequestFilter::requests() const { return impl_->requests; }

bool HttpRequestFilter::Feed(std::string_view in, std::string* out) {
  Impl& s = *impl_;
  using State = Impl::State;
  size_t pos = 0;
  while (pos < in.size()) {
    if (s.state == State::kEnded) return false;
    if (s.state == State::kBody) {
      s.body_out = out;
      const size_t n =
          http_parser_execute(&s.parser, &s.settings, in.data() + pos, in.size() - pos);
      s.body_out = nullptr;
      if (!s.tapped.empty()) return s.Refuse(403, std::move(s.tapped));
      const bool was_holding = s.holding;
      if (!s.chunked && !s.holding && !s.draining) {
        out->append(in.data() + pos, n);  // a Content-Length body, as sent
      }
      pos += n;
      if (HTTP_PARSER_ERRNO(&s.parser) != HPE_OK && !s.message_done) {
        return s.Refuse(400, std::string("a malformed request body (") +
                                 http_errno_description(HTTP_PARSER_ERRNO(&s.parser)) + ")");
      }
      if (s.draining) {
        s.drained += n;
        if (s.message_done || s.drained > kMaxDrainedBody) {
          s.draining = false;
          Refusal r = std::move(s.drained_refusal);
          return s.Refuse(r.status, std::move(r.reason), std::move(r.response));
        }
        continue;
      }
      if (was_holding && !s.Judge(out)) return false;
      if (s.draining) continue;
      if (s.message_done) {
        if (s.chunked) out->append("0\r\n\r\n");
        http_parser_pause(&s.parser, 0);
        s.state = State::kHead;
        continue;
      }
      continue;
    }
    // A head: bytes up to the blank line, with the stray CRLFs some clients
    // send after a body dropped.
    if (s.pending.empty() && in[pos] == '\r') {
      s.pending = "\r";
      ++pos;
      continue;
    }
    if (s.pending == "\r" && in[pos] == '\n') {
      s.pending.clear();
      ++pos;
      continue;
    }
    const size_t before = s.pending.size();
    const size_t room = kMaxRequestHeadBytes + 1 - before;
    const size_t take = std::min(room, in.size() - pos);
    s.pending.append(in.data() + pos, take);
    const size_t end = s.pending.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
    // A bare LF never ends a head here: refused as soon as it is seen.
    const size_t limit = end == std::string::npos ? s.pending.size() : end + 4;
    for (size_t i = before; i < limit; ++i) {
      if (s.pending[i] == '\n' && (i == 0 || s.pending[i - 1] != '\r')) {
        return s.Refuse(400, "a bare LF in the request head");
      }
    }
    if (end == std::string::npos) {
      if (s.pending.size() > kMaxRequestHeadBytes) {
        return s.Refuse(
            431, "a request head over " + std::to_string(kMaxRequestHeadBytes / 1024) + " KiB");
      }
      pos += take;
      continue;
    }
    const size_t head_len = end + 4;
    pos += take - (s.pending.size() - head_len);  // the rest is read again, as body or head
    s.pending.resize(head_len);
    const bool ok = s.TakeHead(s.pending, out);
    s.pending.clear();
    if (!ok) return false;
  }
  return s.state != State::kEnded;
}

}  // namespace ws::net
