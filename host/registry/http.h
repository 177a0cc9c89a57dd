// HTTP/1.1 on a connected socket, for the registry endpoints: reading a
// request head (http_parser, bounded), writing responses. Blocking I/O;
// the socket's SO_RCVTIMEO bounds every read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "host/common/status.h"

namespace ws::registry {

// Header names lower-cased; a repeated header keeps its last value.
using Headers = std::map<std::string, std::string>;

struct Request {
  std::string method;
  std::string path;   // decoded of nothing: as sent, without the query
  std::string query;  // after '?', or empty
  Headers headers;
  bool keep_alive = true;
  bool has_body = false;  // a Content-Length above 0 or a chunked body
  // The host[:port] of an absolute-form target (apt sends its requests to
  // the endpoint as to a proxy), lower-cased; empty for origin form.
  std::string authority;
};

inline constexpr size_t kMaxRequestHead = 16 * 1024;

// http_parser's header callbacks gathered into `out`: names lower-cased,
// a repeated name keeps its last value. Requests and responses share it.
struct HeaderCollector {
  Headers* out = nullptr;
  std::string field, value;
  bool in_value = false;
  void Field(const char* at, size_t n);
  void Value(const char* at, size_t n);
  void Flush();  // at the end of the head: the last header
};

// Reads one request head from `fd`. `buffer` holds bytes read past the
// previous request. kNotFound when the peer closed before a new request;
// kInvalidArgument for a malformed or oversized head.
Result<Request> ReadRequest(int fd, std::string* buffer);

// Writes a whole response head (status line, the headers given plus
// Content-Length and Connection) and `body` unless `head_only`.
bool WriteResponse(int fd, int status, const Headers& headers, std::string_view body,
                   bool keep_alive, bool head_only, uint64_t content_length);
// A short text/plain answer: "workspace: MESSAGE\n".
bool WriteText(int fd, int status, const std::string& message, bool keep_alive,
               bool head_only = false);
// Writes all of `data`; false when the peer went away.
bool WriteAll(int fd, std::string_view data);

std::string Reason(int status);

}  // namespace ws::registry
