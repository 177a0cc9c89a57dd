// ControllerService: the gRPC face of the daemon. Handlers only identify the
// caller, translate messages, call Workspaces and map the Status.
#pragma once

#include <functional>

#include "host/controller/detached_execs.h"
#include "host/controller/peer_listener.h"
#include "host/controller/workspaces.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::controller {

class ControllerService final : public workspace::v1::Controller::Service {
 public:
  ControllerService(Workspaces& workspaces, const PeerListener& peers)
      : workspaces_(workspaces), peers_(peers) {}

  using Ctx = grpc::ServerContext;
  grpc::Status Hello(Ctx*, const workspace::v1::HelloRequest*,
                     workspace::v1::HelloResponse*) override;
  grpc::Status Create(Ctx*, const workspace::v1::CreateRequest*,
                      workspace::v1::CreateResponse*) override;
  grpc::Status Start(Ctx*, const workspace::v1::StartRequest*,
                     workspace::v1::StartResponse*) override;
  grpc::Status Stop(Ctx*, const workspace::v1::StopRequest*, workspace::v1::StopResponse*) override;
  grpc::Status Destroy(Ctx*, const workspace::v1::DestroyRequest*,
                       workspace::v1::DestroyResponse*) override;
  grpc::Status List(Ctx*, const workspace::v1::ListRequest*, workspace::v1::ListResponse*) override;
  grpc::Status Inspect(Ctx*, const workspace::v1::InspectRequest*,
                       workspace::v1::InspectResponse*) override;
  grpc::Status Exec(Ctx*, grpc::ServerReaderWriter<workspace::v1::WorkspaceExecResponse,
                                                   workspace::v1::WorkspaceExecRequest>*) override;
  grpc::Status Logs(Ctx*, const workspace::v1::LogsRequest*,
                    grpc::ServerWriter<workspace::v1::LogsResponse>*) override;
  grpc::Status CopyOut(Ctx*, const workspace::v1::CopyOutRequest*,
                       grpc::ServerWriter<workspace::v1::TreeChunk>*) override;
  grpc::Status CopyIn(Ctx*, grpc::ServerReader<workspace::v1::CopyInRequest>*,
                      workspace::v1::WriteTreeResponse*) override;
  grpc::Status Allow(Ctx*, const workspace::v1::AllowRequest*,
                     workspace::v1::AllowResponse*) override;
  grpc::Status Port(Ctx*, const workspace::v1::PortRequest*, workspace::v1::PortResponse*) override;
  grpc::Status Reset(Ctx*, const workspace::v1::ResetRequest*,
                     workspace::v1::ResetResponse*) override;
  grpc::Status ImageList(Ctx*, const workspace::v1::ImageListRequest*,
                         workspace::v1::ImageListResponse*) override;
  grpc::Status ImageBuild(Ctx*, const workspace::v1::ImageBuildRequest*,
                          grpc::ServerWriter<workspace::v1::ImageBuildProgress>*) override;
  grpc::Status ImageRemove(Ctx*, const workspace::v1::ImageRemoveRequest*,
                           workspace::v1::ImageRemoveResponse*) override;
  grpc::Status Cache(Ctx*, const workspace::v1::CacheRequest*,
                     workspace::v1::CacheResponse*) override;
  grpc::Status Changes(Ctx*, const workspace::v1::ChangesRequest*,
                       workspace::v1::ChangesResponse*) override;
  grpc::Status Audit(Ctx*, const workspace::v1::AuditRequest*,
                     grpc::ServerWriter<workspace::v1::LogsResponse>*) override;
  grpc::Status ExecDetached(Ctx*, const workspace::v1::ExecDetachedRequest*,
                            workspace::v1::ExecDetachedResponse*) override;
  grpc::Status Processes(Ctx*, const workspace::v1::ProcessesRequest*,
                         workspace::v1::ProcessesResponse*) override;
  grpc::Status Kill(Ctx*, const workspace::v1::KillRequest*, workspace::v1::KillResponse*) override;
  grpc::Status SecretAdd(Ctx*, const workspace::v1::SecretAddRequest*,
                         workspace::v1::SecretInfo*) override;
  grpc::Status SecretList(Ctx*, const workspace::v1::SecretListRequest*,
                          workspace::v1::SecretListResponse*) override;
  grpc::Status SecretRemove(Ctx*, const workspace::v1::SecretRemoveRequest*,
                            workspace::v1::SecretRemoveResponse*) override;
  grpc::Status SecretBind(Ctx*, const workspace::v1::SecretBindRequest*,
                          workspace::v1::SecretBindResponse*) override;
  grpc::Status Alerts(Ctx*, const workspace::v1::AlertsRequest*,
                      workspace::v1::AlertsResponse*) override;
  grpc::Status Checkpoint(Ctx*, const workspace::v1::CheckpointRequest*,
                          workspace::v1::CheckpointResponse*) override;
  grpc::Status Rollback(Ctx*, const workspace::v1::RollbackRequest*,
                        workspace::v1::RollbackResponse*) override;
  grpc::Status Diff(Ctx*, const workspace::v1::DiffRequest*, workspace::v1::DiffResponse*) override;

 private:
  Result<Caller> Identify(Ctx* ctx) const;
  // Streams a file (then, with follow, what is appended) while the
  // workspace exists (and, when given, while `going` says so).
  grpc::Status StreamFile(Ctx* ctx, const Caller& c, const std::string& name,
                          const std::string& path, bool follow,
                          grpc::ServerWriter<workspace::v1::LogsResponse>* writer,
                          const std::function<bool()>& going = nullptr);

  // Detached execs are kept per workspace name and UUID.
  static std::string DetachedKey(const WorkspaceView& w);

  Workspaces& workspaces_;
  DetachedExecs detached_;
  const PeerListener& peers_;
};

}  // namespace ws::controller
