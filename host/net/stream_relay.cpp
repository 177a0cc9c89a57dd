#include "host/net/stream_relay.h"

#include <errno.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "host/common/unique_fd.h"

namespace ws::net {

RelayCounts RelaySocketOverStream(
    int fd, grpc::ClientReaderWriter<workspace::v1::TunnelMessage, workspace::v1::TunnelMessage>* stream) {
  std::atomic<uint64_t> to_guest{0};
  std::thread from_socket([&] {
    std::string buf(256 * 1024, '\0');
    workspace::v1::TunnelMessage m;
    for (;;) {
      ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      to_guest += static_cast<uint64_t>(n);
      m.set_data(buf.data(), static_cast<size_t>(n));
      if (!stream->Write(m)) break;
    }
    stream->WritesDone();
  });
  uint64_t to_socket = 0;
  workspace::v1::TunnelMessage m;
  while (stream->Read(&m)) {
    if (!m.has_data()) continue;
    if (!WriteAll(fd, m.data().data(), m.data().size())) break;
    to_socket += m.data().size();
  }
  shutdown(fd, SHUT_RDWR);  // wakes the reader
  from_socket.join();
  return {to_guest.load(), to_socket};
}

}  // namespace ws::net
