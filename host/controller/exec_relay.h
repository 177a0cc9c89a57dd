// RelayExec: carries one Controller.Exec call to the guest agent and back.
// Input flows CLI -> agent on a second thread; output and the exit message
// flow agent -> CLI, each message checked (the guest is untrusted). Either
// side going away cancels the other, so the command is killed in the guest.
#pragma once

#include <grpcpp/grpcpp.h>

#include "host/controller/caller.h"
#include "host/controller/workspaces.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::controller {

using CliExecStream = grpc::ServerReaderWriter<workspace::v1::ExecResponse,
                                               workspace::v1::WorkspaceExecRequest>;

grpc::Status RelayExec(Workspaces& workspaces, const Caller& caller, grpc::ServerContext* ctx,
                       CliExecStream* cli);

}  // namespace ws::controller
