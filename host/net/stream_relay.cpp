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

RelayCounts RelaySocketOverStream(int fd, ByteStream& stream, int idle_seconds) {
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
    return RelayCounts{0, 0};
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
      stream.CloseWrite();
    });
  } catch (const std::system_error&) {
    return give_up();
  }
  uint64_t to_socket = 0;
  std::string data;
  while (stream.Read(&data)) {
    if (!WriteAll(fd, data.data(), data.size())) break;
    to_socket += data.size();
    touch();
  }
  shutdown(fd, SHUT_RDWR);  // wakes the reader
  from_socket.join();
  stop_watchdog();
  return {to_guest.load(), to_socket};
}

}  // namespace ws::net
