// The host end of a workspace's bulk output port (host/common/bulk_marker.h):
// BulkReader reads the port's socket on a thread of its own and BulkDemux
// hands each exec's bytes, found between the markers with its tag, to that
// exec's BulkSink. Everything read is untrusted guest output: bytes outside
// a known exec's markers are dropped, nothing in the stream is interpreted
// but the markers, and memory held is bounded (one read plus a marker's
// length) because a sink's delivery blocks the reader, and with it the guest
// writer, until the exec's client takes the bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "host/common/bulk_marker.h"
#include "host/common/unique_fd.h"

namespace ws::guest {

// One exec's share of the stream. The reader calls Data/End/Lost; the exec
// waits for the end and closes it. Thread-safe.
class BulkSink {
 public:
  // Called on the reader's thread with each piece of output, in order;
  // returns false when the exec's client is gone (the rest is dropped).
  using Deliver = std::function<bool(std::string_view)>;
  explicit BulkSink(Deliver deliver) : deliver_(std::move(deliver)) {}

  void Data(std::string_view bytes);
  void End();   // the end marker arrived: everything before it was delivered
  void Lost();  // the stream broke before the end marker
  // True once the exec closed it: the reader drops it and what follows.
  bool Closed() const;

  enum class Outcome { kEnded, kLost, kStalled };
  // Waits for the end marker. kStalled when nothing arrived for `idle` (a
  // delivery the client is slow to take counts as arriving), or `cancelled`
  // returned true (polled every 100 ms).
  Outcome WaitEnd(std::chrono::milliseconds idle, const std::function<bool()>& cancelled);
  // No delivery after this returns (waits for one in progress).
  void Close();

 private:
  using Clock = std::chrono::steady_clock;
  Deliver deliver_;
  std::mutex deliver_mu_;  // held while delivering; Close takes it to wait
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false, lost_ = false, closed_ = false, refused_ = false;  // guarded by mu_
  bool delivering_ = false;                                               // guarded by mu_
  Clock::time_point last_data_ = Clock::now();                            // guarded by mu_
};

// Splits the port's byte stream into execs by their markers. Pure logic:
// Feed bytes in any pieces; `lookup` names the sink for a begin marker's tag
// (null: unknown, its bytes are dropped). Not thread-safe.
class BulkDemux {
 public:
  using Lookup = std::function<std::shared_ptr<BulkSink>(std::string_view tag)>;
  explicit BulkDemux(Lookup lookup) : lookup_(std::move(lookup)) {}

  void Feed(std::string_view bytes);
  // The stream ended: an exec in the middle of its output is told.
  void Lost();
  // Bytes outside any known exec's markers, dropped so far.
  uint64_t dropped() const { return dropped_; }

 private:
  Lookup lookup_;
  std::string buf_;  // unprocessed: at most a marker's length between Feeds
  std::shared_ptr<BulkSink> current_;
  std::string end_marker_;  // current_'s
  // What every begin marker starts with (the tag follows).
  const std::string begin_prefix_ =
      bulk::Marker(bulk::kBegin, "").substr(0, bulk::kMagic.size() + 1);
  uint64_t dropped_ = 0;
};

// Reads one workspace's bulk socket (libvirt binds it; QEMU accepts one
// client). Thread-safe.
class BulkReader {
 public:
  // Reads `fd`, a connected stream socket to the port (made blocking here);
  // null when it is not valid.
  static std::shared_ptr<BulkReader> Open(unique_fd fd);
  ~BulkReader();

  // Registers `sink` under a fresh random tag, which is returned.
  std::string Register(std::shared_ptr<BulkSink> sink);
  // Closes the tag's sink and forgets it.
  void Unregister(const std::string& tag);
  // False once the socket has closed (QEMU went away, or Shutdown).
  bool Alive() const { return alive_; }
  // Lets go of the port (QEMU then takes the next client); execs still
  // reading from it see their stream lost.
  void Shutdown();

 private:
  explicit BulkReader(unique_fd fd);
  void Run();

  unique_fd fd_;
  std::atomic<bool> alive_{true};
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<BulkSink>, std::less<>> sinks_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ws::guest
