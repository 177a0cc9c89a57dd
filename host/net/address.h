// Address classification for the egress policy: which addresses a workspace
// may never reach unless the user named them explicitly (loopback, private,
// link-local, CGNAT, multicast, unspecified, broadcast), in every spelling —
// IPv4 in decimal, octal, hex and short forms (inet_aton's), IPv6, and IPv4
// embedded in IPv6 (mapped, compatible, NAT64). Pure functions.
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <string_view>

namespace ws::net {

enum class AddressClass {
  kPublic,  // includes the documentation ranges (these machines use them)
  kLoopback,
  kPrivate,    // RFC 1918, fc00::/7
  kLinkLocal,  // 169.254/16 (cloud metadata), fe80::/10
  kCgnat,      // 100.64/10
  kMulticast,
  kUnspecified,  // 0.0.0.0/8, ::
  kBroadcast,
  kReserved,  // 240/4, other special IPv6
};

const char* AddressClassName(AddressClass c);

// An IP address in a canonical form.
struct IpAddress {
  int family = AF_INET;          // AF_INET or AF_INET6
  in6_addr v6{};                 // AF_INET6
  in_addr v4{};                  // AF_INET
  std::string ToString() const;  // "1.2.3.4" or "::1"
  bool operator==(const IpAddress& o) const { return ToString() == o.ToString(); }
};

// Parses a host string as an IP literal in any spelling ("127.1",
// "2130706433", "0x7f.1", "0177.0.0.1", "[::1]", "::ffff:127.0.0.1").
// nullopt for names.
std::optional<IpAddress> ParseIpLiteral(std::string_view host);

AddressClass Classify(const IpAddress& a);

inline bool IsPublic(AddressClass c) { return c == AddressClass::kPublic; }

}  // namespace ws::net
