// RelaySocketOverStream: copies bytes between a connected host socket and a
// client Tunnel/Forward stream to the guest agent until either side ends.
// Used by the egress relay and by port forwards.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>

#include "workspace/v1/agent.grpc.pb.h"

namespace ws::net {

struct RelayCounts {
  uint64_t socket_to_guest = 0;
  uint64_t guest_to_socket = 0;
};

// With idle_seconds > 0, a connection that moves no byte either way for
// that long is cut (ctx cancelled, socket shut down).
RelayCounts RelaySocketOverStream(
    int fd, grpc::ClientReaderWriter<workspace::v1::TunnelMessage, workspace::v1::TunnelMessage>* stream,
    grpc::ClientContext* ctx, int idle_seconds);

}  // namespace ws::net
