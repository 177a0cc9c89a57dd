// A guest's bytes on an HTTP connection, through HttpRequestFilter and
// TunnelGuard (host/net/http_requests.h, tunnel_guard.h). Properties: never
// a crash; the verdict and the bytes passed on do not depend on how the
// bytes were split into reads; everything passed on is itself accepted by a
// second filter (what goes on is well framed), and never longer than what
// came in plus the heads' rewriting.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/net/http_requests.h"
#include "host/net/tunnel_guard.h"

namespace {

struct Outcome {
  bool ok = true;
  std::string out;
};

template <typename F>
Outcome Feed(F& f, std::string_view in, size_t step) {
  Outcome o;
  for (size_t at = 0; at < in.size() && o.ok; at += step)
    o.ok = f.Feed(in.substr(at, step), &o.out);
  return o;
}

ws::net::Refusal Check(ws::net::RequestHead* h) {
  if (h->target.find("/deny") == 0) return {403, "denied"};
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t step = 1 + data[0] % 13;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (in.empty()) return 0;

  ws::net::HttpRequestFilter whole(Check), split(Check);
  Outcome a = Feed(whole, in, in.size());
  Outcome b = Feed(split, in, step);
  if (a.ok != b.ok || a.out != b.out) abort();
  if (whole.requests() != split.requests()) abort();
  // What went on is whole requests a second filter passes unchanged, up to
  // the point a body is still under way.
  if (whole.requests() > 0) {
    ws::net::HttpRequestFilter again(Check);
    std::string twice;
    if (!again.Feed(a.out, &twice)) abort();
    if (twice != a.out.substr(0, twice.size())) abort();
  }

  ws::net::TunnelGuard g1("h.test", 80), g2("h.test", 80);
  Outcome c = Feed(g1, in, in.size());
  Outcome d = Feed(g2, in, step);
  if (c.ok != d.ok) abort();
  if (d.out != c.out.substr(0, d.out.size()) && c.out != d.out.substr(0, c.out.size())) abort();
  return 0;
}
