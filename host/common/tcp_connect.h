// Connecting a TCP socket to one address without blocking past a deadline.
#pragma once

#include <sys/socket.h>

#include "host/common/status.h"
#include "host/common/unique_fd.h"

namespace ws {

// Connects to exactly `addr` within `timeout_ms` and returns the fd in
// blocking mode. kDeadlineExceeded ("connect timed out") or the errno's status.
Result<unique_fd> ConnectTcp(const sockaddr* addr, socklen_t len, int timeout_ms);

}  // namespace ws
