#include "host/net/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace ws::net {
namespace {

AddressClass ClassifyV4(uint32_t a) {  // host byte order
  auto in = [&](uint32_t net, int bits) {
    return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
  };
  if (a == 0xffffffffu) return AddressClass::kBroadcast;
  if (in(0x00000000, 8)) return AddressClass::kUnspecified;
  if (in(0x7f000000, 8)) return AddressClass::kLoopback;
  if (in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16)) return AddressClass::kPrivate;
  if (in(0xa9fe0000, 16)) return AddressClass::kLinkLocal;
  if (in(0x64400000, 10)) return AddressClass::kCgnat;
  if (in(0xe0000000, 4)) return AddressClass::kMulticast;
  if (in(0xf0000000, 4)) return AddressClass::kReserved;
  if (in(0xc0000000, 24)) return AddressClass::kReserved;  // IETF protocol assignments
  if (in(0xc6120000, 15)) return AddressClass::kReserved;  // benchmarking 198.18/15
  return AddressClass::kPublic;
}

uint32_t V4At(const in6_addr& a, int offset) {
  uint32_t v;
  std::memcpy(&v, a.s6_addr + offset, 4);
  return ntohl(v);
}

}  // namespace

const char* AddressClassName(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kCgnat:
      return "cgnat";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kUnspecified:
      return "unspecified";
    case AddressClass::kBroadcast:
      return "broadcast";
    case AddressClass::kReserved:
      return "reserved";
  }
  return "reserved";
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET) {
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, &v6, buf, sizeof buf);
  }
  return buf;
}

std::optional<IpAddress> ParseIpLiteral(std::string_view host_in) {
  std::string host(host_in);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) return std::nullopt;
  IpAddress a;
  if (host.find(':') != std::string::npos) {
    auto pct = host.find('%');  // zone index: fe80::1%eth0
    if (pct != std::string::npos) host.resize(pct);
    if (inet_pton(AF_INET6, host.c_str(), &a.v6) != 1) return std::nullopt;
    a.family = AF_INET6;
    return a;
  }
  // inet_aton takes every legacy spelling: 127.1, 2130706433, 0x7f.1, 0177.0.0.1.
  if (inet_aton(host.c_str(), &a.v4) == 0) return std::nullopt;
  a.family = AF_INET;
  return a;
}

AddressClass Classify(const IpAddress& a) {
  if (a.family == AF_INET) return ClassifyV4(ntohl(a.v4.s_addr));
  const uint8_t* b = a.v6.s6_addr;
  static const uint8_t zero[16] = {};
  if (std::memcmp(b, zero, 16) == 0) return AddressClass::kUnspecified;
  if (std::memcmp(b, zero, 15) == 0 && b[15] == 1) return AddressClass::kLoopback;
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d.
  if (std::memcmp(b, zero, 10) == 0 &&
      ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0))) {
    return ClassifyV4(V4At(a.v6, 12));
  }
  // NAT64 64:ff9b::/96 carries an IPv4 address.
  static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, nat64, 12) == 0) return ClassifyV4(V4At(a.v6, 12));
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::kPrivate;                    // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::kLinkLocal;  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
    return AddressClass::kPrivate;  // fec0::/10 (site-local)
  if (b[0] == 0xff) return AddressClass::kMulticast;
  if (b[0] == 0x20 && b[1] == 0x02) return ClassifyV4(V4At(a.v6, 2));  // 6to4 2002::/16
  return AddressClass::kPublic;
}

}  // namespace ws::net
