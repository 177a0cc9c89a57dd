// The daemon's half of `workspace cp`: carries the tree stream (tree.proto)
// between the CLI and the guest agent. The CLI does the host-side file work
// with its own user's rights and checks every path the guest sends; the
// daemon bounds message sizes (via gRPC limits) and passes on the guest's
// errors as the agent adapter cleaned them. The guest's call ends with the
// CLI's: a guest that stalls holds no daemon thread past the caller's
// patience.
#pragma once

#include <grpcpp/grpcpp.h>

#include "host/controller/caller.h"
#include "host/controller/exec_relay.h"
#include "host/tripwire/alerts.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::controller {

// `tripwire` (may be null): each file's bytes are read for the workspace's
// decoys on the way out; one seen raises a copy-out alert (the copy goes on:
// the user asked for it, and learns what it holds).
grpc::Status RelayCopyOut(const AgentLookup& agents, const Caller& caller, grpc::ServerContext* ctx,
                          const workspace::v1::CopyOutRequest& req,
                          grpc::ServerWriter<workspace::v1::TreeChunk>* out,
                          std::shared_ptr<tripwire::Tripwire> tripwire = nullptr);

grpc::Status RelayCopyIn(const AgentLookup& agents, const Caller& caller, grpc::ServerContext* ctx,
                         grpc::ServerReader<workspace::v1::CopyInRequest>* in,
                         workspace::v1::WriteTreeResponse* resp);

}  // namespace ws::controller
