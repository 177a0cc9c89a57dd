// The daemon's half of `workspace cp`: carries GuestAgent.ReadTree and
// WriteTree streams between the CLI and the guest unchanged. The CLI does the
// host-side file work with its own user's rights and checks every path the
// guest sends; the daemon only bounds message sizes (via gRPC limits).
#pragma once

#include <grpcpp/grpcpp.h>

#include "host/controller/caller.h"
#include "host/controller/workspaces.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::controller {

grpc::Status RelayCopyOut(Workspaces& workspaces, const Caller& caller, grpc::ServerContext* ctx,
                          const workspace::v1::CopyOutRequest& req,
                          grpc::ServerWriter<workspace::v1::TreeChunk>* out);

grpc::Status RelayCopyIn(Workspaces& workspaces, const Caller& caller, grpc::ServerContext* ctx,
                         grpc::ServerReader<workspace::v1::CopyInRequest>* in,
                         workspace::v1::WriteTreeResponse* resp);

}  // namespace ws::controller
