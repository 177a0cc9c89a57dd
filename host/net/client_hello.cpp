#include "host/net/client_hello.h"

#include <cstdint>
#include <set>

namespace ws::net {
namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHelloType = 1;
constexpr uint16_t kServerNameExtension = 0;
constexpr uint16_t kAlpnExtension = 16;

// A bounds-checked reader over one byte string.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool U8(uint8_t* v) {
    if (b_.size() < 1) return false;
    *v = static_cast<uint8_t>(b_[0]);
    b_.remove_prefix(1);
    return true;
  }
  bool U16(uint16_t* v) {
    if (b_.size() < 2) return false;
    *v = static_cast<uint16_t>(static_cast<uint8_t>(b_[0]) << 8 | static_cast<uint8_t>(b_[1]));
    b_.remove_prefix(2);
    return true;
  }
  bool Bytes(size_t n, std::string_view* v) {
    if (b_.size() < n) return false;
    *v = b_.substr(0, n);
    b_.remove_prefix(n);
    return true;
  }
  // A vector with a length prefix of 1 or 2 bytes.
  bool Vec8(std::string_view* v) {
    uint8_t n;
    return U8(&n) && Bytes(n, v);
  }
  bool Vec16(std::string_view* v) {
    uint16_t n;
    return U16(&n) && Bytes(n, v);
  }
  bool empty() const { return b_.empty(); }
  size_t left() const { return b_.size(); }

 private:
  std::string_view b_;
};

bool Printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

HelloStatus ParseServerName(std::string_view ext, ClientHello* out) {
  Reader r(ext);
  std::string_view list;
  if (!r.Vec16(&list) || !r.empty()) return HelloStatus::kMalformed;
  Reader names(list);
  while (!names.empty()) {
    uint8_t type;
    std::string_view name;
    if (!names.U8(&type) || !names.Vec16(&name)) return HelloStatus::kMalformed;
    if (type != 0) continue;  // only host_name is defined
    if (out->has_sni || name.empty() || !Printable(name)) return HelloStatus::kMalformed;
    out->has_sni = true;
    out->server_name = std::string(name);
  }
  return HelloStatus::kComplete;
}

HelloStatus ParseAlpn(std::string_view ext, ClientHello* out) {
  Reader r(ext);
  std::string_view list;
  if (!r.Vec16(&list) || !r.empty()) return HelloStatus::kMalformed;
  Reader protos(list);
  while (!protos.empty()) {
    std::string_view p;
    if (!protos.Vec8(&p) || p.empty()) return HelloStatus::kMalformed;
    out->alpn.emplace_back(p);
  }
  return HelloStatus::kComplete;
}

// The ClientHello body (after the handshake header).
HelloStatus ParseBody(std::string_view body, ClientHello* out) {
  Reader r(body);
  uint16_t version;
  std::string_view skip;
  if (!r.U16(&version) || !r.Bytes(32, &skip) || !r.Vec8(&skip) || !r.Vec16(&skip) ||
      !r.Vec8(&skip)) {
    return HelloStatus::kMalformed;
  }
  if (r.empty()) return HelloStatus::kComplete;  // no extensions: no SNI
  std::string_view exts;
  if (!r.Vec16(&exts) || !r.empty()) return HelloStatus::kMalformed;
  Reader e(exts);
  std::set<uint16_t> seen;
  while (!e.empty()) {
    uint16_t type;
    std::string_view data;
    if (!e.U16(&type) || !e.Vec16(&data)) return HelloStatus::kMalformed;
    if (!seen.insert(type).second) return HelloStatus::kMalformed;  // RFC 8446 4.2
    HelloStatus s = HelloStatus::kComplete;
    if (type == kServerNameExtension) s = ParseServerName(data, out);
    if (type == kAlpnExtension) s = ParseAlpn(data, out);
    // Encrypted ClientHello (and its draft, ESNI): the outer SNI is not the
    // name the server will be asked for.
    if (type == 0xfe0d || type == 0xffce) out->encrypted = true;
    if (s != HelloStatus::kComplete) return s;
  }
  return HelloStatus::kComplete;
}

}  // namespace

HelloStatus ParseClientHello(std::string_view bytes, ClientHello* out) {
  *out = ClientHello();
  // The handshake message may span records: gather their payloads.
  std::string handshake;
  Reader r(bytes);
  bool first = true;
  size_t records = 0;
  for (;;) {
    uint8_t type;
    uint16_t version, length;
    if (!r.U8(&type)) return HelloStatus::kNeedMore;
    if (type != kHandshakeRecord) return first ? HelloStatus::kNotTls : HelloStatus::kMalformed;
    if (!r.U16(&version)) return HelloStatus::kNeedMore;
    if ((version >> 8) != 3) return first ? HelloStatus::kNotTls : HelloStatus::kMalformed;
    if (!r.U16(&length)) return HelloStatus::kNeedMore;
    if (length == 0 || length > 16384) return HelloStatus::kMalformed;
    std::string_view payload;
    if (!r.Bytes(length, &payload)) return HelloStatus::kNeedMore;
    handshake.append(payload);
    first = false;
    if (++records > kMaxHelloRecords) return HelloStatus::kMalformed;
    if (handshake.size() < 4) continue;
    if (static_cast<uint8_t>(handshake[0]) != kClientHelloType) return HelloStatus::kMalformed;
    const size_t body = static_cast<size_t>(static_cast<uint8_t>(handshake[1])) << 16 |
                        static_cast<size_t>(static_cast<uint8_t>(handshake[2])) << 8 |
                        static_cast<uint8_t>(handshake[3]);
    if (body + 4 + 5 * 5 > kMaxClientHelloBytes) return HelloStatus::kMalformed;
    if (handshake.size() < body + 4) continue;
    // Bytes past the hello in its last record are another message: not
    // allowed before the server answered.
    if (handshake.size() > body + 4) return HelloStatus::kMalformed;
    HelloStatus s = ParseBody(std::string_view(handshake).substr(4, body), out);
    out->consumed = bytes.size() - r.left();
    return s;
  }
}

}  // namespace ws::net
