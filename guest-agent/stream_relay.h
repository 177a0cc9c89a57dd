// RelaySocket: copies bytes between a connected socket and a gRPC stream of
// TunnelMessage.data until either side ends (the proxy's tunnels and port
// forwards both use it).
#pragma once

#include <grpcpp/grpcpp.h>

#include "workspace/v1/agent.grpc.pb.h"

namespace ws::agent {

void RelaySocket(
    int fd, grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<workspace::v1::TunnelMessage, workspace::v1::TunnelMessage>* s);

}  // namespace ws::agent
