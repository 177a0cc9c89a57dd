// Upstream: the real registry behind an endpoint, fetched by the host over
// HTTPS verified against the system's trust store (plus a CA file of the
// host's configuration), one GET or HEAD per connection. What the guest sent
// never reaches it: the request is made anew from a path the endpoint checked.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "host/common/status.h"
#include "host/registry/http.h"

namespace ws::registry {

struct Url {
  bool tls = true;
  std::string host;  // without brackets
  uint16_t port = 443;
  std::string path;  // starts with '/'
};
// http:// or https:// URLs only, no user info.
Result<Url> ParseUrl(const std::string& url);

struct Response {
  int status = 0;
  Headers headers;  // lower-cased names
};

class Upstream {
 public:
  // ca_file: extra trust anchors (PEM), or empty for the system store only.
  static Result<std::shared_ptr<Upstream>> Make(const std::string& ca_file);
  ~Upstream();

  // GETs (or HEADs) `url` with `headers`; the body goes to `on_body` as it
  // arrives (chunked bodies decoded). kResourceExhausted past `max_body`;
  // kUnavailable when the upstream cannot be reached or dies mid-body.
  Result<Response> Fetch(const std::string& method, const std::string& url, const Headers& headers,
                         uint64_t max_body, const std::function<bool(std::string_view)>& on_body);

 private:
  explicit Upstream(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

}  // namespace ws::registry
