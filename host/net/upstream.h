// Upstream: where an allowed egress connection goes once the policy said
// yes. Today's one kind is a raw TCP relay to the address the policy
// checked (TcpUpstream); a TLS-terminating upstream (credentials injected on
// the host) or a git-push filter plugs in per allow entry in its place.
#pragma once

#include <memory>
#include <string>

#include "host/common/byte_stream.h"
#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "host/net/policy.h"
#include "host/net/stream_relay.h"

namespace ws::net {

class Upstream {
 public:
  virtual ~Upstream() = default;
  // Carries the connection: the guest's bytes on `guest`, both ways, until
  // either side ends or it is idle too long. Returns the bytes moved.
  virtual RelayCounts Handle(const Decision& decision, ByteStream& guest) = 0;
  // The address it reached, for the audit log ("" when none).
  virtual std::string address() const = 0;
};

// Resolves `host` (no lookup for an IP literal), checks every address
// against `decision` (CheckResolved) and connects to the first that passes
// — exactly the address checked, no second lookup. On failure the returned
// Decision says why (a denial) and `fd` is not valid.
struct Connected {
  Decision decision;
  unique_fd fd;
  std::string address;  // the address connected to
};
Connected ConnectChecked(const Decision& decision, const std::string& host, uint16_t port);

// ConnectChecked, then an Upstream that relays the bytes (TunnelGuard).
struct Dialed {
  Decision decision;
  std::unique_ptr<Upstream> upstream;  // null unless decision allows
};
Dialed DialTcp(const Decision& decision, const std::string& host, uint16_t port, int idle_seconds,
               bool read_only = false);

}  // namespace ws::net
