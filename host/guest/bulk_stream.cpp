#include "host/guest/bulk_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "host/common/bulk_marker.h"
#include "host/common/unix_socket.h"

namespace ws::guest {
namespace {

// glibc's memmem: linear, and fast over long runs of one byte.
size_t Find(std::string_view hay, std::string_view needle) {
  const void* p = memmem(hay.data(), hay.size(), needle.data(), needle.size());
  return p ? static_cast<size_t>(static_cast<const char*>(p) - hay.data()) : std::string_view::npos;
}

// The length of the longest tail of `data` that is the start of `marker`:
// held back until the next piece says whether the marker follows. Only that
// much, so a line of output is delivered at once, not when more comes.
size_t MarkerStartAtEnd(std::string_view data, std::string_view marker) {
  for (size_t k = std::min(data.size(), marker.size() - 1); k > 0; --k) {
    if (data.substr(data.size() - k) == marker.substr(0, k)) return k;
  }
  return 0;
}

}  // namespace

void BulkSink::Data(std::string_view bytes) {
  std::lock_guard deliver(deliver_mu_);
  {
    std::lock_guard lock(mu_);
    // After the end, a tag's begin marker sent again must not reach the
    // client after the exit.
    if (closed_ || refused_ || ended_) return;
    delivering_ = true;
  }
  const bool ok = deliver_(bytes);  // blocks while the client is slow
  std::lock_guard lock(mu_);
  delivering_ = false;
  last_data_ = Clock::now();
  if (!ok) refused_ = true;
}

void BulkSink::End() {
  std::lock_guard lock(mu_);
  ended_ = true;
  cv_.notify_all();
}

void BulkSink::Lost() {
  std::lock_guard lock(mu_);
  lost_ = true;
  cv_.notify_all();
}

bool BulkSink::Closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

BulkSink::Outcome BulkSink::WaitEnd(std::chrono::milliseconds idle,
                                    const std::function<bool()>& cancelled) {
  std::unique_lock lock(mu_);
  // The exit message and the end marker come on different ports: a command
  // silent for longer than `idle` has its marker still on the way.
  const auto entered = Clock::now();
  for (;;) {
    if (ended_) return Outcome::kEnded;
    if (lost_) return Outcome::kLost;
    if (!delivering_ && Clock::now() - std::max(last_data_, entered) > idle)
      return Outcome::kStalled;
    lock.unlock();
    if (cancelled()) return Outcome::kStalled;
    lock.lock();
    // The predicate is checked first: an End() while unlocked is not missed.
    cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return ended_ || lost_; });
  }
}

void BulkSink::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  std::lock_guard deliver(deliver_mu_);  // one in progress finishes first
}

void BulkDemux::Feed(std::string_view bytes) {
  buf_.append(bytes);
  std::string_view rest(buf_);
  for (;;) {
    if (current_ && current_->Closed()) current_.reset();
    if (current_) {
      size_t end = Find(rest, end_marker_);
      if (end == std::string_view::npos) {
        size_t ready = rest.size() - MarkerStartAtEnd(rest, end_marker_);
        if (ready > 0) current_->Data(rest.substr(0, ready));
        rest.remove_prefix(ready);
        break;
      }
      if (end > 0) current_->Data(rest.substr(0, end));
      current_->End();
      current_.reset();
      rest.remove_prefix(end + bulk::kMarkerSize);
      continue;
    }
    size_t at = Find(rest, begin_prefix_);
    if (at == std::string_view::npos) {
      size_t drop = rest.size() - MarkerStartAtEnd(rest, begin_prefix_);
      dropped_ += drop;
      rest.remove_prefix(drop);
      break;
    }
    dropped_ += at;
    rest.remove_prefix(at);
    if (rest.size() < bulk::kMarkerSize) break;  // the tag comes with the next piece
    std::string_view tag = rest.substr(bulk::kMarkerSize - bulk::kTagSize, bulk::kTagSize);
    current_ = lookup_(tag);
    if (current_) end_marker_ = bulk::Marker(bulk::kEnd, tag);
    rest.remove_prefix(bulk::kMarkerSize);
  }
  buf_.erase(0, buf_.size() - rest.size());
}

void BulkDemux::Lost() {
  if (current_) current_->Lost();
  current_.reset();
  buf_.clear();
}

std::shared_ptr<BulkReader> BulkReader::Open(unique_fd fd) {
  if (!fd) return nullptr;
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return nullptr;
  return std::shared_ptr<BulkReader>(new BulkReader(std::move(fd)));
}

BulkReader::BulkReader(unique_fd fd) : fd_(std::move(fd)) {
  thread_ = std::thread([this] { Run(); });
}

BulkReader::~BulkReader() {
  Shutdown();
  thread_.join();
}

void BulkReader::Shutdown() { shutdown(fd_.get(), SHUT_RDWR); }

void BulkReader::Run() {
  BulkDemux demux([this](std::string_view tag) -> std::shared_ptr<BulkSink> {
    std::lock_guard lock(mu_);
    auto it = sinks_.find(tag);
    return it == sinks_.end() ? nullptr : it->second;
  });
  // Large reads: the guest writes at hundreds of MB/s.
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd_.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    demux.Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  alive_ = false;
  demux.Lost();
  std::lock_guard lock(mu_);
  for (auto& [tag, sink] : sinks_) sink->Lost();
}

std::string BulkReader::Register(std::shared_ptr<BulkSink> sink) {
  std::string tag(bulk::kTagSize, '\0');
  size_t got = 0;
  while (got < tag.size()) {
    ssize_t n = getrandom(tag.data() + got, tag.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  std::lock_guard lock(mu_);
  if (!alive_) sink->Lost();
  sinks_[tag] = std::move(sink);
  return tag;
}

void BulkReader::Unregister(const std::string& tag) {
  std::shared_ptr<BulkSink> sink;
  {
    std::lock_guard lock(mu_);
    auto it = sinks_.find(tag);
    if (it == sinks_.end()) return;
    sink = std::move(it->second);
    sinks_.erase(it);
  }
  sink->Close();
}

}  // namespace ws::guest
