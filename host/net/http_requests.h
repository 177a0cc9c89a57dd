// HttpRequestFilter: the requests a guest sends on one HTTP/1.1 connection,
// taken a head at a time (http_parser, plus stricter framing rules) and
// passed on only once a check has seen the whole head. A request two servers
// could frame two ways — more than one Content-Length, Content-Length with
// Transfer-Encoding, a transfer coding other than chunked, a folded header
// line, a bare LF or CR, a control character — is refused with 400 before a
// byte of it goes on; so are TRACE (it echoes headers back), CONNECT and
// protocol upgrades (what follows them is no longer HTTP to check). A
// target in absolute form (http://HOST/path, as a client that thinks it
// talks to a proxy sends on a kept-alive connection) goes on in origin form,
// its HOST given to the check (a server takes it over Host); any other form
// but a path is refused. A body goes on as it comes, in its own framing. A
// refusal ends the connection. A check may hold a request's body until it
// has read it (BodyGate). Pure: bytes in, bytes out.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ws::net {

struct HttpHeader {
  std::string name;   // as sent
  std::string value;  // without surrounding whitespace
};

struct RequestHead {
  std::string method;               // "GET"
  std::string target;               // "/path?query" (or "*"), as sent or made origin form
  std::string authority;            // HOST[:PORT] of an absolute-form target ("" for origin form)
  int minor = 1;                    // HTTP/1.minor
  std::vector<HttpHeader> headers;  // in order
  // Every value of the headers called `name` (any case), in order.
  std::vector<std::string> All(std::string_view name) const;
  // The head as it goes on: request line, headers, blank line (CRLFs).
  std::string Serialize() const;
};

struct Refusal {
  Refusal() = default;
  Refusal(int s, std::string why, std::string answer = "")
      : status(s), reason(std::move(why)), response(std::move(answer)) {}
  int status = 0;  // 0: none
  std::string reason;
  std::string response;  // the whole answer, when not RefusalResponse's (a git push's report)
};

// A check of a request's body before any of the request goes on (a git
// push's command list, a GraphQL document): the head and the body are held
// (the body decoded from its framing, at most `limit` bytes) until `check`
// passes or refuses them. A refused body is read to its end and dropped,
// so the client gets to read the refusal.
enum class BodyVerdict { kNeedMore, kPass, kRefuse };
struct BodyGate {
  size_t limit = 0;
  // The body so far; `complete` once it has all come. kRefuse fills *refusal.
  std::function<BodyVerdict(std::string_view body, bool complete, Refusal* refusal)> check;
};

// Most bytes a request head may take, and most header lines in it.
inline constexpr size_t kMaxRequestHeadBytes = 32 * 1024;
inline constexpr size_t kMaxRequestHeaders = 128;

class HttpRequestFilter {
 public:
  // Sees each request's head before any of it goes on, and may edit it; a
  // refusal (status != 0) ends the connection.
  using Check = std::function<Refusal(RequestHead* head)>;
  explicit HttpRequestFilter(Check check);
  // As above; the check may also set a gate on the request's body.
  using GatedCheck = std::function<Refusal(RequestHead* head, BodyGate* gate)>;
  explicit HttpRequestFilter(GatedCheck check);
  ~HttpRequestFilter();
  HttpRequestFilter(const HttpRequestFilter&) = delete;
  HttpRequestFilter& operator=(const HttpRequestFilter&) = delete;

  // Sees every request body as it goes on (decoded from its framing, in
  // pieces); a non-empty answer refuses the request with 403 before the
  // piece goes on and ends the connection (what went before it has gone).
  using BodyTap = std::function<std::string(std::string_view piece)>;
  void SetBodyTap(BodyTap tap);

  // Takes the guest's next bytes and appends to *out what may go on. False
  // once the connection must end: refusal() says why.
  bool Feed(std::string_view in, std::string* out);
  const Refusal& refusal() const;
  int requests() const;  // heads passed on so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A character of an HTTP token (a header name, a method): RFC 9110's tchar.
bool IsHttpTokenChar(char c);

// What the guest's client is told of a refusal: its `response`, or a whole
// HTTP/1.1 response with "workspace: REASON" as its text body and
// Connection: close.
std::string RefusalResponse(const Refusal& refusal);

}  // namespace ws::net
