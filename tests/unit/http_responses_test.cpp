#include "host/net/http_responses.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ws::net {
namespace {

struct Watched {
  HttpResponseWatcher w;
  std::vector<int> statuses;
  // Feeds `bytes` one at a time (every split point), then EOF when asked.
  void Feed(const std::string& bytes, bool eof = false) {
    auto on = [&](int s) { statuses.push_back(s); };
    for (char c : bytes) w.Feed(std::string_view(&c, 1), on);
    if (eof) w.Feed({}, on);
  }
};

TEST(HttpResponseWatcher, PairsPipelinedAnswersInOrderWhateverTheirFraming) {
  Watched x;
  for (int i = 0; i < 3; ++i) x.w.Expect(false);
  x.Feed(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(x.statuses, (std::vector<int>{200, 404, 204}));
  EXPECT_EQ(x.w.completed(), 3);
  EXPECT_FALSE(x.w.broken());
}

TEST(HttpResponseWatcher, AnAnswerToHeadHasNoBodyWhateverItsLengthSays) {
  Watched x;
  x.w.Expect(true);
  x.w.Expect(false);
  x.Feed(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(x.statuses, (std::vector<int>{200, 201}));
  EXPECT_EQ(x.w.completed(), 2);
}

TEST(HttpResponseWatcher, NoContentAndNotModifiedHaveNoBodyWhateverTheirLengthSays) {
  Watched x;
  for (int i = 0; i < 3; ++i) x.w.Expect(false);
  x.Feed(
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 120\r\n\r\n"
      "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(x.statuses, (std::vector<int>{304, 204, 200}));
  EXPECT_EQ(x.w.completed(), 3);
  EXPECT_FALSE(x.w.broken());
}

TEST(HttpResponseWatcher, AnAnswerToNoRequestStopsThePairing) {
  Watched x;
  x.w.Expect(false);
  x.Feed(
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
      "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(x.statuses, (std::vector<int>{200}));
  EXPECT_EQ(x.w.completed(), 1) << "the unasked answer is not counted";
  EXPECT_TRUE(x.w.broken());
}

TEST(HttpResponseWatcher, InterimAnswersAreNotTheRequestsAnswer) {
  Watched x;
  x.w.Expect(false);
  x.Feed(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nContent-Length: 4\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(x.statuses, (std::vector<int>{200}));
  EXPECT_EQ(x.w.completed(), 1);
}

TEST(HttpResponseWatcher, ABodyThatRunsToTheCloseEndsAtEof) {
  Watched x;
  x.w.Expect(false);
  x.Feed("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n");
  EXPECT_EQ(x.statuses, (std::vector<int>{200}));
  EXPECT_EQ(x.w.completed(), 0) << "still streaming";
  x.Feed("", /*eof=*/true);
  EXPECT_EQ(x.w.completed(), 1);
}

TEST(HttpResponseWatcher, BytesThatAreNoHttpAnswerStopTheWatch) {
  Watched x;
  x.w.Expect(false);
  x.Feed("SSH-2.0-OpenSSH\r\n");
  EXPECT_TRUE(x.w.broken());
  EXPECT_TRUE(x.statuses.empty());
  EXPECT_EQ(x.w.completed(), 0);
  x.Feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(x.statuses.empty()) << "nothing read once broken";
}

}  // namespace
}  // namespace ws::net
