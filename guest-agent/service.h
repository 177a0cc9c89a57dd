// The GuestAgent gRPC service: thin handlers that validate, call the work in
// exec_session / init, and map errors. Transport-agnostic: main decides
// whether it is served on the virtio-serial port or a unix socket.
#pragma once

#include <functional>

#include "workspace/v1/agent.grpc.pb.h"

namespace ws::agent {

// Exec runs on the callback API with raw messages (exec_session.h); the rest
// are synchronous.
class AgentService final : public workspace::v1::GuestAgent::WithRawCallbackMethod_Exec<
                               workspace::v1::GuestAgent::Service> {
 public:
  // power_off is called (on another thread) after Shutdown has answered.
  explicit AgentService(std::function<void()> power_off) : power_off_(std::move(power_off)) {}

  grpc::Status Info(grpc::ServerContext*, const workspace::v1::InfoRequest*,
                    workspace::v1::InfoResponse*) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Exec(
      grpc::CallbackServerContext*) override;
  grpc::Status Shutdown(grpc::ServerContext*, const workspace::v1::ShutdownRequest*,
                        workspace::v1::ShutdownResponse*) override;
  grpc::Status ReadTree(grpc::ServerContext*, const workspace::v1::ReadTreeRequest*,
                        grpc::ServerWriter<workspace::v1::TreeChunk>*) override;
  grpc::Status WriteTree(grpc::ServerContext*, grpc::ServerReader<workspace::v1::TreeChunk>*,
                         workspace::v1::WriteTreeResponse*) override;
  grpc::Status WatchEgress(grpc::ServerContext*, const workspace::v1::WatchEgressRequest*,
                           grpc::ServerWriter<workspace::v1::EgressRequest>*) override;
  grpc::Status Tunnel(grpc::ServerContext*,
                      grpc::ServerReaderWriter<workspace::v1::TunnelMessage,
                                               workspace::v1::TunnelMessage>*) override;
  grpc::Status Forward(grpc::ServerContext*,
                       grpc::ServerReaderWriter<workspace::v1::TunnelMessage,
                                                workspace::v1::TunnelMessage>*) override;
  grpc::Status Configure(grpc::ServerContext*, const workspace::v1::ConfigureRequest*,
                         workspace::v1::ConfigureResponse*) override;
  grpc::Status Notify(grpc::ServerContext*, const workspace::v1::NotifyRequest*,
                      workspace::v1::NotifyResponse*) override;

 private:
  std::function<void()> power_off_;
};

}  // namespace ws::agent
