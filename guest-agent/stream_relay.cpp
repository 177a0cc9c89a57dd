#include "guest-agent/stream_relay.h"

#include <errno.h>
#include <sys/socket.h>

#include <thread>

#include "host/common/unique_fd.h"

namespace ws::agent {

void RelaySocket(
    int fd, grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<workspace::v1::TunnelMessage, workspace::v1::TunnelMessage>* s) {
  std::thread up([&] {
    std::string buf(256 * 1024, '\0');
    workspace::v1::TunnelMessage d;
    for (;;) {
      ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      d.set_data(buf.data(), static_cast<size_t>(n));
      if (!s->Write(d)) break;
    }
    ctx->TryCancel();  // this side is done: end the stream
  });
  workspace::v1::TunnelMessage m;
  while (s->Read(&m)) {
    if (m.has_data() && !WriteAll(fd, m.data().data(), m.data().size())) break;
  }
  shutdown(fd, SHUT_RDWR);  // wakes the reader above
  up.join();
}

}  // namespace ws::agent
