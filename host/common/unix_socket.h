// Unix sockets: connecting without ever blocking past a deadline; passing fds.
#pragma once

#include <chrono>
#include <string>

#include "host/common/status.h"
#include "host/common/unique_fd.h"

namespace ws {

// Connects to the stream socket at `path` and returns the fd non-blocking.
// A listener whose backlog is full is retried until `timeout`, then
// kDeadlineExceeded: QEMU's chardev serves one client and stops accepting,
// so a connect while another client is served queues in the backlog
// (succeeds; the caller's handshake then waits, and must be bounded), and
// once the backlog is full a blocking connect() would wait for good.
// No listener (ENOENT, ECONNREFUSED) is kUnavailable at once.
Result<unique_fd> ConnectUnix(const std::string& path, std::chrono::milliseconds timeout);

// Passes one fd over a connected unix socket (SCM_RIGHTS), and takes it.
Status SendFd(int socket, int fd);
Result<unique_fd> RecvFd(int socket);

}  // namespace ws
