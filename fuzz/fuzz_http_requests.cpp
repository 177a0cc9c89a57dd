// A guest's bytes on an HTTP connection, through HttpRequestFilter and
// TunnelGuard (host/net/http_requests.h, tunnel_guard.h). Properties: never
// a crash; the verdict and the heads passed on do not depend on how the
// bytes were split into reads; everything passed on is itself accepted by a
// second filter, which sees the same heads (what goes on is well framed).
// The same bytes read as a server's answers: statuses and ends do not
// depend on the split either.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "host/net/http_requests.h"
#include "host/net/http_responses.h"
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

  // The heads each filter checked, serialized, in order.
  std::string seen_whole, seen_split, seen_again_whole, seen_again_split;
  auto recording = [](std::string* seen) {
    return [seen](ws::net::RequestHead* h) {
      ws::net::Refusal r = Check(h);
      if (r.status == 0) *seen += h->Serialize();
      return r;
    };
  };
  ws::net::HttpRequestFilter whole(recording(&seen_whole)), split(recording(&seen_split));
  Outcome a = Feed(whole, in, in.size());
  Outcome b = Feed(split, in, step);
  // How reads split changes a chunked body's chunking, never the verdict or
  // the heads.
  if (a.ok != b.ok || seen_whole != seen_split) abort();
  if (whole.requests() != split.requests()) abort();
  // What went on is well framed: a second filter passes the same heads.
  ws::net::HttpRequestFilter again_whole(recording(&seen_again_whole));
  ws::net::HttpRequestFilter again_split(recording(&seen_again_split));
  std::string sink;
  if (!again_whole.Feed(a.out, &sink) || !again_split.Feed(b.out, &sink)) abort();
  if (seen_again_whole != seen_whole || seen_again_split != seen_split) abort();

  ws::net::TunnelGuard g1("h.test", 80), g2("h.test", 80);
  Outcome c = Feed(g1, in, in.size());
  Outcome d = Feed(g2, in, step);
  if (c.ok != d.ok) abort();

  // The same bytes as a server's answers (HttpResponseWatcher): the statuses
  // read, the answers completed and the verdict do not depend on the split.
  auto watch = [&](size_t st) {
    ws::net::HttpResponseWatcher w;
    for (int i = 0; i < 4; ++i) w.Expect(i == 1);  // the second request was HEAD
    std::vector<int> statuses;
    auto on = [&](int s) { statuses.push_back(s); };
    for (size_t at = 0; at < in.size(); at += st) w.Feed(in.substr(at, st), on);
    w.Feed({}, on);
    return std::make_tuple(statuses, w.completed(), w.broken());
  };
  if (watch(in.size()) != watch(step)) abort();
  return 0;
}
