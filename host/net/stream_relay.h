// RelaySocketOverStream: copies bytes between a connected host socket and a
// ByteStream to the guest (a tunnel or a forward) until either side ends.
// Used by the egress relay and by port forwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "host/common/byte_stream.h"

namespace ws::net {

struct RelayCounts {
  uint64_t socket_to_guest = 0;
  uint64_t guest_to_socket = 0;  // bytes that went on (after the filter)
  std::string refused;           // why the filter ended the connection ("" if it did not)
};

// Sees the guest's bytes before they go on: appends to *out what may, and
// returns false to end the connection, with *reply (maybe "") sent to the
// guest first and *why for the record.
using GuestFilter = std::function<bool(std::string_view in, std::string* out, std::string* reply,
                                       std::string* why)>;

// With idle_seconds > 0, a connection that moves no byte either way for
// that long is cut (stream cancelled, socket shut down). With a filter,
// only what it lets through reaches the socket.
RelayCounts RelaySocketOverStream(int fd, ByteStream& stream, int idle_seconds,
                                  const GuestFilter& filter = nullptr);

}  // namespace ws::net
