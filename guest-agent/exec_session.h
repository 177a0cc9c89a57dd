// ExecSession: one Exec RPC from start to exit. Spawns the command, streams
// its stdout/stderr in bounded chunks (a blocked Write slows the command, it
// never buffers), feeds stdin and signals from the stream, enforces the
// timeout, and ends with one exit message. When the command ends or the call
// is cancelled, its whole process group is killed.
#pragma once

#include <grpcpp/grpcpp.h>

#include "workspace/v1/agent.grpc.pb.h"

namespace ws::agent {

using ExecStream = grpc::ServerReaderWriter<workspace::v1::ExecResponse, workspace::v1::ExecRequest>;

// Runs the session on the calling (gRPC handler) thread; returns the RPC's
// status. Uses one extra thread for input.
grpc::Status RunExecSession(grpc::ServerContext* ctx, ExecStream* stream);

}  // namespace ws::agent
