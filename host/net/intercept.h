// InterceptUpstream: an allowed connection to a host whose requests the
// host must read (a secret bound to it, or a rule for its class), ended on
// the host instead of tunnelled: the guest's TLS is answered with a leaf
// from the workspace's own CA, the real server is reached over TLS verified
// against the system's trust store with its name checked, and in between
// each HTTP/1.1 request is framed (HttpRequestFilter), held to its host's
// rules and given its secret (ApplyRules); answers stream back as they
// come, a reflected secret scrubbed (Scrubber). Nothing reaches the real
// server before its certificate verified; a request the rules refuse never
// reaches it. Only TLS, only HTTP/1.1 (ALPN): a ClientHello for another
// name, without http/1.1 among its protocols, or plain bytes end the
// connection before anything is sent upstream.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "host/net/http_rules.h"
#include "host/net/upstream.h"
#include "host/net/workspace_ca.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace ws::net {

// The daemon's TLS contexts for interception: the client side trusts the
// system store and, for tests only, one more anchor (`--upstream-ca FILE`).
class InterceptTls {
 public:
  static Result<std::shared_ptr<InterceptTls>> Make(const std::string& extra_upstream_ca = "");
  ~InterceptTls();
  SSL_CTX* client() const { return client_; }
  SSL_CTX* server() const { return server_; }

 private:
  InterceptTls(SSL_CTX* client, SSL_CTX* server) : client_(client), server_(server) {}
  SSL_CTX* client_;
  SSL_CTX* server_;
};

// One intercepted request, for the audit log.
struct InterceptedRequest {
  std::string method;
  std::string path;  // PathForAudit: no query value
  RequestOutcome outcome;
  int status = 0;  // the answer's: the refusal's, or the server's once read (0: none came)
};
using RequestAuditFn = std::function<void(const InterceptedRequest&)>;

// Connects to `host` as DialTcp does (the checked address only) and returns
// an upstream that intercepts with `plan`. `current` (null: always) says
// whether the plan still holds; once it does not, the connection's next
// request is refused (a secret unbound or replaced is not sent again).
Dialed DialIntercept(const Decision& decision, const std::string& host, HostPlan plan,
                     std::shared_ptr<WorkspaceCa> ca, std::shared_ptr<InterceptTls> tls,
                     int idle_seconds, std::function<bool()> current, RequestAuditFn audit);

}  // namespace ws::net
