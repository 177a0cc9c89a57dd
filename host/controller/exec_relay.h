// RelayExec: carries one Controller.Exec call to the guest agent and back.
// The daemon builds the agent's start from the fields the CLI may set (the
// bulk port's tag is the daemon's own); input flows CLI -> agent on a
// second thread; output and the exit flow agent -> CLI, as the agent adapter
// checked and cleaned them. Either side going away cancels the other, so the
// command is killed in the guest.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>

#include "host/controller/caller.h"
#include "host/guest/guest_agent.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::controller {

// The connected agent of a running workspace the caller may use.
using AgentLookup = std::function<Result<std::shared_ptr<guest::GuestAgent>>(
    const Caller& caller, const std::string& name)>;

using CliExecStream = grpc::ServerReaderWriter<workspace::v1::WorkspaceExecResponse,
                                               workspace::v1::WorkspaceExecRequest>;

// The agent's start for the CLI's (pure; bulk_tag left empty).
guest::ExecSpec ExecSpecFor(const workspace::v1::WorkspaceExecStart& start);

grpc::Status RelayExec(const AgentLookup& agents, const Caller& caller, grpc::ServerContext* ctx,
                       CliExecStream* cli);

}  // namespace ws::controller
