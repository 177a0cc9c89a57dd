// BulkDemux: the host's split of the bulk port's byte stream into execs by
// their markers (host/common/bulk_marker.h). The stream is guest output, so
// every piece boundary, unknown tag and stray byte must be handled.
#include "host/guest/bulk_stream.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "host/common/bulk_marker.h"
#include "host/store/layout.h"

namespace ws::guest {
namespace {

struct Recorder {
  std::string data;
  std::shared_ptr<BulkSink> sink = std::make_shared<BulkSink>([this](std::string_view d) {
    data.append(d);
    return true;
  });
  bool Ended() {
    return sink->WaitEnd(std::chrono::milliseconds(0), [] { return false; }) ==
           BulkSink::Outcome::kEnded;
  }
};

std::string Tag(char c) { return std::string(bulk::kTagSize, c); }

std::string Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class BulkDemuxTest : public ::testing::Test {
 protected:
  std::map<std::string, Recorder*> known;
  BulkDemux demux{[this](std::string_view tag) -> std::shared_ptr<BulkSink> {
    auto it = known.find(std::string(tag));
    return it == known.end() ? nullptr : it->second->sink;
  }};
  // Feeds `stream` in pieces of `piece` bytes.
  void Feed(const std::string& stream, size_t piece) {
    for (size_t i = 0; i < stream.size(); i += piece)
      demux.Feed(std::string_view(stream).substr(i, piece));
  }
};

TEST_F(BulkDemuxTest, EachExecGetsExactlyItsBytesWhateverThePieces) {
  for (size_t piece : {1ul, 7ul, 31ul, 32ul, 33ul, 4096ul, 1ul << 20}) {
    Recorder a, b;
    known = {{Tag('a'), &a}, {Tag('b'), &b}};
    // Output of zeros (what dd if=/dev/zero writes) and of random bytes,
    // which here also hold another exec's marker as plain data.
    const std::string out_a = std::string(100000, '\0') + bulk::Marker(bulk::kEnd, Tag('b'));
    const std::string out_b = Random(300001, piece);
    Feed(bulk::Marker(bulk::kBegin, Tag('a')) + out_a + bulk::Marker(bulk::kEnd, Tag('a')) +
             bulk::Marker(bulk::kBegin, Tag('b')) + out_b + bulk::Marker(bulk::kEnd, Tag('b')),
         piece);
    EXPECT_EQ(a.data, out_a) << "piece " << piece;
    EXPECT_EQ(b.data, out_b) << "piece " << piece;
    EXPECT_TRUE(a.Ended());
    EXPECT_TRUE(b.Ended());
    EXPECT_EQ(demux.dropped(), 0u);
  }
}

TEST_F(BulkDemuxTest, ALineIsDeliveredAtOnceNotWhenMoreComes) {
  Recorder a;
  known = {{Tag('a'), &a}};
  demux.Feed(bulk::Marker(bulk::kBegin, Tag('a')) + "ready\n");
  EXPECT_EQ(a.data, "ready\n") << "a prompt or progress line must not wait for the end";
  // Only what may be the start of the end marker waits for the next piece.
  const std::string end = bulk::Marker(bulk::kEnd, Tag('a'));
  demux.Feed("more" + end.substr(0, 10));
  EXPECT_EQ(a.data, "ready\nmore");
  demux.Feed(end.substr(10));
  EXPECT_EQ(a.data, "ready\nmore");
  EXPECT_TRUE(a.Ended());
}

TEST_F(BulkDemuxTest, AnExecWithNoOutputStillEnds) {
  Recorder a;
  known = {{Tag('a'), &a}};
  Feed(bulk::Marker(bulk::kBegin, Tag('a')) + bulk::Marker(bulk::kEnd, Tag('a')), 5);
  EXPECT_TRUE(a.Ended());
  EXPECT_EQ(a.data, "");
}

TEST_F(BulkDemuxTest, BytesOutsideAKnownExecAreDropped) {
  Recorder a;
  known = {{Tag('a'), &a}};
  const std::string stray = "written by a process that escaped its exec\n";
  Feed(stray + bulk::Marker(bulk::kBegin, Tag('x')) + "unknown exec's output" +
           bulk::Marker(bulk::kEnd, Tag('x')) + stray + bulk::Marker(bulk::kBegin, Tag('a')) +
           "mine" + bulk::Marker(bulk::kEnd, Tag('a')) + stray,
       3);
  EXPECT_EQ(a.data, "mine");
  EXPECT_TRUE(a.Ended());
  EXPECT_GT(demux.dropped(), stray.size());
}

TEST_F(BulkDemuxTest, AClosedExecsRestIsDroppedAndTheNextExecIsFound) {
  Recorder a, b;
  known = {{Tag('a'), &a}, {Tag('b'), &b}};
  demux.Feed(bulk::Marker(bulk::kBegin, Tag('a')) + std::string(1000, 'x'));
  a.sink->Close();  // the client went away; the guest never wrote the end marker
  demux.Feed(std::string(1000, 'y') + bulk::Marker(bulk::kBegin, Tag('b')) + "next" +
             bulk::Marker(bulk::kEnd, Tag('b')));
  EXPECT_EQ(a.data, std::string(1000, 'x')) << "only what came before Close";
  EXPECT_EQ(b.data, "next");
  EXPECT_TRUE(b.Ended());
}

TEST_F(BulkDemuxTest, AStreamThatBreaksMidOutputTellsTheExec) {
  Recorder a;
  known = {{Tag('a'), &a}};
  demux.Feed(bulk::Marker(bulk::kBegin, Tag('a')) + "partial");
  demux.Lost();
  EXPECT_EQ(a.sink->WaitEnd(std::chrono::seconds(5), [] { return false; }),
            BulkSink::Outcome::kLost);
}

TEST_F(BulkDemuxTest, AClientThatStopsTakingOutputIsNotCalledAgain) {
  int calls = 0;
  auto sink = std::make_shared<BulkSink>([&](std::string_view) {
    ++calls;
    return false;
  });
  BulkDemux d([&](std::string_view) { return sink; });
  d.Feed(bulk::Marker(bulk::kBegin, Tag('a')) + std::string(100, 'x'));
  d.Feed(std::string(100, 'x'));
  d.Feed(std::string(100, 'x') + bulk::Marker(bulk::kEnd, Tag('a')));
  EXPECT_EQ(calls, 1);
}

// The exit message and the end marker travel on different ports: for a
// command that printed nothing for longer than the idle limit, the marker
// may come a moment after the exit.
TEST(BulkSink, TheIdleLimitStartsWhenTheExitIsWaitingNotAtTheLastOutput) {
  BulkSink sink([](std::string_view) { return true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a silent command
  std::thread marker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sink.End();
  });
  auto outcome = sink.WaitEnd(std::chrono::milliseconds(200), [] { return false; });
  marker.join();
  EXPECT_EQ(outcome, BulkSink::Outcome::kEnded);
}

TEST(BulkSink, NothingIsDeliveredAfterTheEnd) {
  int calls = 0;
  BulkSink sink([&](std::string_view) {
    ++calls;
    return true;
  });
  sink.Data("before");
  sink.End();
  sink.Data("after: a begin marker sent again");
  EXPECT_EQ(calls, 1);
}

TEST(BulkSocketPath, SitsNextToTheAgentSocketAndIsNoLonger) {
  EXPECT_EQ(store::BulkSocketPath("/var/lib/workspace/run/0123abcd4567.sock"),
            "/var/lib/workspace/run/0123abcd4567.out");
}

}  // namespace
}  // namespace ws::guest
