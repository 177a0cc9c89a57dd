#include "host/common/tcp_connect.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

namespace ws {

Result<unique_fd> ConnectTcp(const sockaddr* addr, socklen_t len, int timeout_ms) {
  unique_fd fd(socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoStatus("socket", errno);
  if (connect(fd.get(), addr, len) != 0 && errno != EINPROGRESS)
    return ErrnoStatus("connect", errno);
  pollfd p = {fd.get(), POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1) return Status(Code::kDeadlineExceeded, "connect timed out");
  int err = 0;
  socklen_t elen = sizeof err;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) return ErrnoStatus("connect", err);
  fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace ws
