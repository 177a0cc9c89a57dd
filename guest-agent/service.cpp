#include "guest-agent/service.h"

#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "guest-agent/exec_session.h"
#include "guest-agent/proxy.h"
#include "guest-agent/tree.h"

namespace ws::agent {

grpc::Status AgentService::Info(grpc::ServerContext*, const workspace::v1::InfoRequest*,
                                workspace::v1::InfoResponse* resp) {
  resp->set_protocol_version(workspace::v1::PROTOCOL_VERSION_CURRENT);
  resp->set_agent_version(WS_VERSION);
  struct utsname u;
  if (uname(&u) == 0) {
    resp->set_kernel_release(u.release);
    resp->set_hostname(u.nodename);
  }
  std::ifstream uptime("/proc/uptime");
  double up = 0;
  if (uptime >> up) resp->set_uptime_seconds(up);
  return grpc::Status::OK;
}

grpc::Status AgentService::Exec(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<workspace::v1::ExecResponse, workspace::v1::ExecRequest>* stream) {
  return RunExecSession(ctx, stream);
}

grpc::Status AgentService::Shutdown(grpc::ServerContext*, const workspace::v1::ShutdownRequest*,
                                    workspace::v1::ShutdownResponse*) {
  // Answer first, then power off, so the host sees a clean reply.
  std::thread([fn = power_off_] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fn();
  }).detach();
  return grpc::Status::OK;
}

grpc::Status AgentService::ReadTree(grpc::ServerContext*, const workspace::v1::ReadTreeRequest* req,
                                    grpc::ServerWriter<workspace::v1::TreeChunk>* out) {
  return agent::ReadTree(req->path(), out);
}

grpc::Status AgentService::WriteTree(grpc::ServerContext*,
                                     grpc::ServerReader<workspace::v1::TreeChunk>* in,
                                     workspace::v1::WriteTreeResponse* resp) {
  return agent::WriteTree(in, resp);
}

grpc::Status AgentService::WatchEgress(grpc::ServerContext* ctx, const workspace::v1::WatchEgressRequest*,
                                       grpc::ServerWriter<workspace::v1::EgressRequest>* out) {
  if (!EgressProxy::Instance().running()) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "this workspace has no egress proxy (--net none)"};
  }
  return EgressProxy::Instance().Watch(ctx, out);
}

grpc::Status AgentService::Tunnel(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<workspace::v1::TunnelMessage, workspace::v1::TunnelMessage>* s) {
  return EgressProxy::Instance().Tunnel(ctx, s);
}

}  // namespace ws::agent
