#include "host/net/stream_relay.h"

#include <errno.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>

#include "host/common/unique_fd.h"

namespace ws::net {

RelayCounts RelaySocketOverStream(int fd, ByteStream& stream, int idle_seconds,
                                  const GuestFilter& filter) {
  using Clock = std::chrono::steady_clock;
  std::atomic<int64_t> last_activity{Clock::now().time_since_epoch().count()};
  auto touch = [&] { last_activity = Clock::now().time_since_epoch().count(); };
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::thread watchdog;
  auto stop_watchdog = [&] {
    {
      std::lock_guard lock(mu);
      finished = true;
    }
    cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
  };
  // A thread the host cannot start ends this connection (the guest sees it
  // closed), never the daemon: a flooding guest is what makes threads short.
  auto give_up = [&] {
    stream.Cancel();
    shutdown(fd, SHUT_RDWR);
    stop_watchdog();
    return RelayCounts{};
  };
  if (idle_seconds > 0) {
    try {
      watchdog = std::thread([&] {
        std::unique_lock lock(mu);
        while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return finished; })) {
          auto idle = Clock::now() - Clock::time_point(Clock::duration(last_activity.load()));
          if (idle > std::chrono::seconds(idle_seconds)) {
            stream.Cancel();
            shutdown(fd, SHUT_RDWR);
            return;
          }
        }
      });
    } catch (const std::system_error&) {
      return give_up();
    }
  }
  std::atomic<uint64_t> to_guest{0};
  std::atomic<bool> refusing{false};  // a filter's reply still goes to the guest after the reader
  std::thread from_socket;
  try {
    from_socket = std::thread([&] {
      std::string buf(256 * 1024, '\0');
      for (;;) {
        ssize_t n = recv(fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        to_guest += static_cast<uint64_t>(n);
        touch();
        if (!stream.Write(std::string_view(buf.data(), static_cast<size_t>(n)))) break;
      }
      if (!refusing) stream.CloseWrite();
    });
  } catch (const std::system_error&) {
    return give_up();
  }
  RelayCounts counts;
  uint64_t to_socket = 0;
  std::string data, passed, reply;
  while (stream.Read(&data)) {
    touch();
    const std::string* out = &data;
    if (filter) {
      passed.clear();
      const bool go_on = filter(data, &passed, &reply, &counts.refused);
      out = &passed;
      if (!go_on) {
        if (!out->empty() && WriteAll(fd, out->data(), out->size())) to_socket += out->size();
        // Nothing more reaches the socket; the guest hears the reply, then
        // the end (a guest that keeps sending is drained until it stops or
        // falls idle).
        refusing = true;
        shutdown(fd, SHUT_RDWR);
        from_socket.join();
        if (!reply.empty()) stream.Write(reply);
        stream.CloseWrite();
        while (stream.Read(&data)) {
        }
        stop_watchdog();
        counts.socket_to_guest = to_guest.load();
        counts.guest_to_socket = to_socket;
        return counts;
      }
    }
    if (!WriteAll(fd, out->data(), out->size())) break;
    to_socket += out->size();
  }
  shutdown(fd, SHUT_RDWR);  // wakes the reader
  from_socket.join();
  stop_watchdog();
  counts.socket_to_guest = to_guest.load();
  counts.guest_to_socket = to_socket;
  return counts;
}

}  // namespace ws::net
