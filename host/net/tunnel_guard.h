// TunnelGuard: an allowed connection held to the name the guest asked for,
// so an allowed name cannot front for another behind the same server (a
// CDN routes by the TLS server name and by Host, not by the address). The
// first bytes the guest's client sends decide:
//   - a TLS ClientHello must ask for that host (SNI, any case, one trailing
//     dot); one with no SNI to a named host, or with one to an IP address,
//     is refused; after it the tunnel is opaque;
//   - HTTP/1.x requests must each name that host (and port, if any) in
//     Host and in an absolute-form URL (HttpRequestFilter's rules, head by
//     head); a request without Host gets one;
//   - anything else (ssh, ...) passes only on ports other than 80 and 443.
// Nothing goes on before that decision. Pure: bytes in, bytes out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "host/net/http_requests.h"

namespace ws::net {

// Does `authority` (HOST[:PORT], from a Host header or an absolute URL)
// name `host` (a normalized name, or an IP literal: the same address in any
// spelling) and, when it gives a port, `port`?
bool AuthorityIsHost(std::string_view authority, std::string_view host, uint16_t port);

class TunnelGuard {
 public:
  // `host` as the guest asked for it (a name or an IP literal), `port` its
  // port. `read_only`: HTTP requests other than GET and HEAD are refused
  // (a package registry reached over plain HTTP).
  TunnelGuard(std::string host, uint16_t port, bool read_only = false);
  ~TunnelGuard();

  // Takes the guest's next bytes and appends to *out what may go on. False
  // once the connection must end: refusal() says why, reply() what to send
  // the guest's client first ("" once it speaks TLS).
  bool Feed(std::string_view in, std::string* out);
  const std::string& refusal() const { return refusal_; }
  const std::string& reply() const { return reply_; }
  // What the connection turned out to carry: "" (not known yet), "tls",
  // "http" or "other".
  const char* kind() const;

 private:
  enum class Mode { kSniff, kTls, kHttp, kOther, kRefused };
  bool Refuse(std::string why, std::string reply);
  bool Sniff(std::string* out);
  Refusal CheckHost(RequestHead* head) const;

  const std::string host_;  // normalized name, or the IP literal as given
  const bool host_is_ip_;
  const uint16_t port_;
  const bool read_only_;
  Mode mode_ = Mode::kSniff;
  std::string buffered_;  // held while sniffing
  std::unique_ptr<HttpRequestFilter> http_;
  std::string refusal_, reply_;
};

}  // namespace ws::net
