// The request side of an HTTP/1.1 connection: heads checked before they go
// on, bodies passed in their own framing, ambiguous framing refused.
#include "host/net/http_requests.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace ws::net {
namespace {

struct Filtered {
  bool ok = true;
  std::string out;
  Refusal refusal;
  std::vector<std::string> heads;  // "METHOD TARGET" as checked
};

// Feeds `in` in pieces of `step` bytes (0: at once) through a filter whose
// check records each head and refuses none.
Filtered Filter(const std::string& in, size_t step = 0) {
  Filtered r;
  HttpRequestFilter f([&](RequestHead* h) {
    r.heads.push_back(h->method + " " + h->target);
    return Refusal{};
  });
  if (step == 0) step = in.size() ? in.size() : 1;
  for (size_t at = 0; at < in.size() && r.ok; at += step) {
    r.ok = f.Feed(std::string_view(in).substr(at, step), &r.out);
  }
  r.refusal = f.refusal();
  return r;
}

const std::string kGet = "GET /a?x=1 HTTP/1.1\r\nHost: h.test\r\nAccept: */*\r\n\r\n";

TEST(HttpRequestFilter, PassesHeadsAndBodiesWholeInAnyPieces) {
  const std::string post = "POST /up HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\n\r\nhello";
  const std::string chunked =
      "PUT /c HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n";
  const std::string all = kGet + post + chunked + kGet;
  // A chunked body goes on re-framed: extensions and trailers dropped.
  const std::string reframed =
      kGet + post +
      "PUT /c HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" +
      kGet;
  for (size_t step : {0, 1, 2, 7, 64}) {
    Filtered r = Filter(all, step);
    ASSERT_TRUE(r.ok) << step << ": " << r.refusal.reason;
    if (step == 1) {  // each byte of a chunk its own chunk
      EXPECT_NE(r.out.find("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n"), std::string::npos) << r.out;
    } else if (step == 0 || step == 64) {
      EXPECT_EQ(r.out, reframed) << step;
    }
    EXPECT_EQ(r.heads, (std::vector<std::string>{"GET /a?x=1", "POST /up", "PUT /c", "GET /a?x=1"}))
        << step;
  }
}

TEST(HttpRequestFilter, NothingGoesOnBeforeTheWholeHeadIsChecked) {
  Filtered r = Filter(kGet.substr(0, kGet.size() - 1));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.heads.empty());
}

TEST(HttpRequestFilter, ACheckSeesAndEditsTheHeadAndCanRefuseIt) {
  std::string out;
  HttpRequestFilter edit([](RequestHead* h) {
    for (auto& hd : h->headers) {
      if (hd.name == "Accept") hd.value = "text/plain";
    }
    return Refusal{};
  });
  ASSERT_TRUE(edit.Feed(kGet, &out));
  EXPECT_EQ(out, "GET /a?x=1 HTTP/1.1\r\nHost: h.test\r\nAccept: text/plain\r\n\r\n");

  out.clear();
  HttpRequestFilter refuse([](RequestHead* h) {
    return h->target == "/no" ? Refusal{403, "not this one"} : Refusal{};
  });
  EXPECT_FALSE(refuse.Feed(kGet + "GET /no HTTP/1.1\r\nHost: h.test\r\n\r\n" + kGet, &out));
  EXPECT_EQ(out, kGet) << "the request before the refused one went on, nothing after";
  EXPECT_EQ(refuse.refusal().status, 403);
  EXPECT_EQ(refuse.requests(), 1);
  EXPECT_FALSE(refuse.Feed(kGet, &out)) << "a refused connection takes nothing more";
}

TEST(HttpRequestFilter, AmbiguousFramingIsRefusedBeforeAnyByteGoesOn) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
       "more than one Content-Length"},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
       "more than one Content-Length"},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       "both Content-Length and Transfer-Encoding"},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       "a transfer coding other than chunked"},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       "a transfer coding other than chunked"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n", "obs-fold"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tfolded\r\n\r\n", "obs-fold"},
      {"GET / HTTP/1.1\nHost: h\r\n\r\n", "a bare LF"},
      {"GET / HTTP/1.1\r\nHost: h\n\n", "a bare LF"},
      {"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", "a bare CR"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", "a control character"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"},
      {"TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", "TRACE is refused"},
      {"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", "CONNECT"},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       "upgrades"},
      {"GET https://other.test/ HTTP/1.1\r\nHost: h\r\n\r\n", "not a path"},
      {"GET http://u:p@other.test/ HTTP/1.1\r\nHost: h\r\n\r\n", "user information"},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", "only HTTP/1.0 and HTTP/1.1"},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.0"},
      {"GET / HTTP/1.1\r\nHost : evil\r\n\r\n", "not a token"},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello", "not a token"},
      {"GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", "without a name"},
      {"GET /\r\n\r\n", "HTTP/1.0"},
      {"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", "malformed"},
  };
  for (const auto& [in, why] : cases) {
    for (size_t step : {0, 1}) {
      Filtered r = Filter(in, step);
      EXPECT_FALSE(r.ok) << in;
      EXPECT_EQ(r.out, "") << in;
      EXPECT_TRUE(r.heads.empty()) << in;
      EXPECT_NE(r.refusal.reason.find(why), std::string::npos) << in << " -> " << r.refusal.reason;
      EXPECT_GE(r.refusal.status, 400) << in;
    }
  }
  // Controls: the same shapes, unambiguous, pass.
  for (const std::string in :
       {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\tfolded\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"}) {
    Filtered r = Filter(in);
    EXPECT_TRUE(r.ok) << in << " -> " << r.refusal.reason;
    EXPECT_EQ(r.heads.size(), 1u) << in;
  }
}

TEST(HttpRequestFilter, AnAbsoluteUrlGoesOnInOriginFormWithItsHostChecked) {
  std::string seen;
  HttpRequestFilter f([&](RequestHead* h) {
    seen = h->authority + " " + h->target;
    return Refusal{};
  });
  std::string out;
  ASSERT_TRUE(f.Feed("GET http://Other.Test:8080?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", &out));
  EXPECT_EQ(seen, "Other.Test:8080 /?q=1");
  EXPECT_EQ(out, "GET /?q=1 HTTP/1.1\r\nHost: h\r\n\r\n");
}

// A chunk extension that hides a bare LF: http_parser reads the size line to
// the CR, a lenient server would end it at the LF and take the data that
// follows (a whole request to another host) as framing. What goes on is
// canonical chunks, so both read the data as data.
TEST(HttpRequestFilter, ChunkExtensionsCannotSmuggleARequest) {
  std::string data = "0\r\n\r\nGET / HTTP/1.1\r\nHost: evil\r\n\r\n";
  data += std::string(0x7f - data.size(), 'p');
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  Filtered r = Filter(head + "7F;ext\nmore\r\n" + data + "\r\n0\r\n\r\n");
  ASSERT_TRUE(r.ok) << r.refusal.reason;
  EXPECT_EQ(r.heads.size(), 1u);
  EXPECT_EQ(r.out, head + "7f\r\n" + data + "\r\n0\r\n\r\n");
}

TEST(HttpRequestFilter, ABrokenChunkedBodyEndsTheConnection) {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  Filtered r = Filter(head + "zz\r\nabc\r\n0\r\n\r\n" + kGet);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.refusal.reason.find("malformed request body"), std::string::npos) << r.refusal.reason;
  EXPECT_EQ(r.heads.size(), 1u) << "the next head was never read";
}

TEST(HttpRequestFilter, HeadsAreBounded) {
  std::string big = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(kMaxRequestHeadBytes, 'a');
  Filtered r = Filter(big, 4096);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.refusal.status, 431);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (size_t i = 0; i < kMaxRequestHeaders + 1; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  r = Filter(many + "\r\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.refusal.status, 431);
  EXPECT_EQ(r.out, "");
}

TEST(HttpRequestFilter, TheRefusalIsAWholeResponse) {
  const std::string r = RefusalResponse({421, "Host 'x' is not y"});
  EXPECT_EQ(r.rfind("HTTP/1.1 421 Misdirected Request\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\n\r\nworkspace: Host 'x' is not y\n"), std::string::npos);
}

// A gate holds a request's head and body until it has read enough of the
// body; nothing of the request goes on before.
struct Gated {
  bool ok = true;
  std::string out;
  std::vector<size_t> out_sizes;  // out's size after each piece
  Refusal refusal;
};
Gated FilterGated(const std::string& in, size_t step, size_t limit,
                  std::function<BodyVerdict(std::string_view, bool, Refusal*)> check) {
  Gated r;
  HttpRequestFilter f([&](RequestHead* h, BodyGate* gate) {
    if (h->method == "POST") *gate = BodyGate{limit, check};
    return Refusal{};
  });
  if (step == 0) step = in.size();
  for (size_t at = 0; at < in.size() && r.ok; at += step) {
    r.ok = f.Feed(std::string_view(in).substr(at, step), &r.out);
    r.out_sizes.push_back(r.out.size());
  }
  r.refusal = f.refusal();
  return r;
}

TEST(HttpRequestFilter, AGateHoldsTheRequestUntilItsBodyIsRead) {
  const std::string post =
      "POST /p HTTP/1.1\r\nHost: h.test\r\nContent-Length: 10\r\n\r\nKEEP-going";
  auto pass_on_keep = [](std::string_view body, bool, Refusal*) {
    return body.size() >= 4
               ? (body.substr(0, 4) == "KEEP" ? BodyVerdict::kPass : BodyVerdict::kRefuse)
               : BodyVerdict::kNeedMore;
  };
  for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
    auto r = FilterGated(post + kGet, step, 1024, pass_on_keep);
    EXPECT_TRUE(r.ok) << step;
    EXPECT_EQ(r.out, post + kGet) << step;
    if (step == 1) {
      // Nothing went on before the 4th body byte was read.
      const size_t head = post.size() - 10;
      EXPECT_EQ(r.out_sizes[head + 2], 0u);
      EXPECT_EQ(r.out_sizes[head + 3], head + 4);
    }
  }
  // Chunked: the held part goes on as one chunk, the rest as it comes.
  const std::string chunked =
      "POST /p HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nExpect: "
      "100-continue\r\n\r\n2\r\nKE\r\n3\r\nEP-\r\n5\r\ngoing\r\n0\r\n\r\n";
  const std::string head = "POST /p HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n";
  auto c = FilterGated(chunked, 0, 1024, pass_on_keep);
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.out, head + "a\r\nKEEP-going\r\n0\r\n\r\n")
      << "Expect is dropped: the server never saw the head to answer it";
  auto bytewise = FilterGated(chunked, 1, 1024, pass_on_keep);
  EXPECT_TRUE(bytewise.ok);
  EXPECT_EQ(bytewise.out.substr(0, head.size() + 9), head + "4\r\nKEEP\r\n");
}

TEST(HttpRequestFilter, AGateRefusalSendsNothingAndReadsTheBodyToItsEnd) {
  const std::string post =
      "POST /p HTTP/1.1\r\nHost: h.test\r\nContent-Length: 10\r\n\r\nEVIL-going";
  auto refuse = [](std::string_view body, bool, Refusal* r) {
    if (body.size() < 4) return BodyVerdict::kNeedMore;
    *r = Refusal(403, "evil", "HTTP/1.1 200 OK\r\n\r\ncustom");
    return BodyVerdict::kRefuse;
  };
  for (size_t step : {size_t{0}, size_t{1}}) {
    auto r = FilterGated(post + kGet, step, 1024, refuse);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.out, "") << "nothing of the refused request went on";
    EXPECT_EQ(r.refusal.status, 403);
    EXPECT_EQ(RefusalResponse(r.refusal), "HTTP/1.1 200 OK\r\n\r\ncustom");
    if (step == 1) {
      // The refusal came once the body had all been read, not at its 4th byte.
      EXPECT_EQ(r.out_sizes.size(), post.size());
    }
  }
  // A body over the limit; a compressed one; a body that ends undecided.
  auto need_more = [](std::string_view, bool, Refusal*) { return BodyVerdict::kNeedMore; };
  auto big = FilterGated(post, 0, 5, need_more);
  EXPECT_EQ(big.refusal.status, 413);
  EXPECT_EQ(big.out, "");
  auto undecided = FilterGated(post, 0, 1024, need_more);
  EXPECT_EQ(undecided.refusal.status, 400);
  auto gz = FilterGated(
      "POST /p HTTP/1.1\r\nHost: h.test\r\nContent-Encoding: gzip\r\nContent-Length: 1\r\n\r\nx", 0,
      1024, need_more);
  EXPECT_EQ(gz.refusal.status, 415);
  EXPECT_EQ(gz.out, "");
  // Control: a request without a gate on the same filter goes on at once.
  EXPECT_EQ(FilterGated(kGet, 0, 5, need_more).out, kGet);
}

}  // namespace
}  // namespace ws::net
