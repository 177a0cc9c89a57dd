// File trees in and out of the guest (for `workspace cp`). The agent runs as
// root and trusts the host; it still refuses relative paths that climb out
// of the copied root.
#pragma once

#include <grpcpp/grpcpp.h>

#include "workspace/v1/agent.grpc.pb.h"

namespace ws::agent {

grpc::Status ReadTree(const std::string& path, grpc::ServerWriter<workspace::v1::TreeChunk>* out);
grpc::Status WriteTree(grpc::ServerReader<workspace::v1::TreeChunk>* in,
                       workspace::v1::WriteTreeResponse* resp);

}  // namespace ws::agent
