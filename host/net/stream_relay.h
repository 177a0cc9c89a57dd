// RelaySocketOverStream: copies bytes between a connected host socket and a
// ByteStream to the guest (a tunnel or a forward) until either side ends.
// Used by the egress relay and by port forwards.
#pragma once

#include <cstdint>

#include "host/common/byte_stream.h"

namespace ws::net {

struct RelayCounts {
  uint64_t socket_to_guest = 0;
  uint64_t guest_to_socket = 0;
};

// With idle_seconds > 0, a connection that moves no byte either way for
// that long is cut (stream cancelled, socket shut down).
RelayCounts RelaySocketOverStream(int fd, ByteStream& stream, int idle_seconds);

}  // namespace ws::net
