#include "guest-agent/service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "guest-agent/exec_session.h"
#include "guest-agent/host_settings.h"
#include "guest-agent/identity.h"
#include "guest-agent/notices.h"
#include "guest-agent/proxy.h"
#include "guest-agent/stream_relay.h"
#include "guest-agent/tree.h"
#include "host/common/unique_fd.h"

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

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* AgentService::Exec(
    grpc::CallbackServerContext* ctx) {
  return NewExecSession(ctx);
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

grpc::Status AgentService::WatchEgress(grpc::ServerContext* ctx,
                                       const workspace::v1::WatchEgressRequest*,
                                       grpc::ServerWriter<workspace::v1::EgressRequest>* out) {
  if (!EgressProxy::Instance().running()) {
    return {grpc::StatusCode::FAILED_PRECONDITION,
            "this workspace has no egress proxy (--net none)"};
  }
  return EgressProxy::Instance().Watch(ctx, out);
}

grpc::Status AgentService::Tunnel(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<workspace::v1::TunnelMessage, workspace::v1::TunnelMessage>* s) {
  return EgressProxy::Instance().Tunnel(ctx, s);
}

grpc::Status AgentService::Forward(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<workspace::v1::TunnelMessage, workspace::v1::TunnelMessage>* s) {
  workspace::v1::TunnelMessage first;
  if (!s->Read(&first) || !first.has_forward() || first.forward().port() == 0 ||
      first.forward().port() > 65535) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "Forward starts with a port"};
  }
  const uint16_t port = static_cast<uint16_t>(first.forward().port());
  unique_fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    // Not UNAVAILABLE: the host reads that as a dead transport and reconnects.
    return {grpc::StatusCode::FAILED_PRECONDITION,
            "nothing listens on guest port " + std::to_string(port)};
  }
  RelaySocket(fd.get(), ctx, s);
  return grpc::Status::OK;
}

grpc::Status AgentService::Configure(grpc::ServerContext*,
                                     const workspace::v1::ConfigureRequest* req,
                                     workspace::v1::ConfigureResponse*) {
  if (req->has_identity()) {
    // Host name, mounts, clock and entropy are the machine's: only a
    // guest's init takes them (not an agent run by hand or by tests).
    if (getpid() != 1) return {grpc::StatusCode::FAILED_PRECONDITION, "not a guest's init"};
    const auto& in = req->identity();
    Identity id;
    id.hostname = in.hostname();
    id.machine_id = in.machine_id();
    id.git_name = in.git_name();
    id.git_email = in.git_email();
    for (const auto& sh : in.shares())
      id.shares.push_back({sh.tag(), sh.guest_path(), sh.read_only()});
    id.entropy = in.entropy();
    id.unix_time_ns = in.unix_time_ns();
    Status s = CheckIdentity(id);
    if (!s.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    s = ApplyIdentity(id);
    if (!s.ok()) return {grpc::StatusCode::INTERNAL, s.message()};
    return grpc::Status::OK;
  }
  if (req->ca_pem().size() > 64 * 1024 || req->env_size() > 64) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "settings over their bounds"};
  }
  for (const auto& kv : req->env()) {
    if (kv.size() > 4096 || kv.find('=') == std::string::npos ||
        kv.find('\0') != std::string::npos) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "a variable that is not KEY=VALUE"};
    }
  }
  if (req->home_files_size() > 16) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "more than 16 files for the home"};
  }
  std::vector<HomeFile> files;
  for (const auto& f : req->home_files()) {
    const std::string& p = f.path();
    bool bad = p.empty() || p.size() > 256 || p[0] == '/' || p.back() == '/' ||
               f.content().size() > 64 * 1024 || p.find('\0') != std::string::npos;
    for (size_t at = 0; !bad && at <= p.size();) {
      const size_t slash = std::min(p.find('/', at), p.size());
      const std::string part = p.substr(at, slash - at);
      bad = part.empty() || part == "." || part == "..";
      at = slash + 1;
    }
    if (bad) return {grpc::StatusCode::INVALID_ARGUMENT, "a home file path that is not plain"};
    files.push_back({p, f.content(), f.mode()});
  }
  Status s = ApplyHostSettings(req->ca_pem(), {req->env().begin(), req->env().end()});
  if (s.ok()) s = PlantHomeFiles(files);
  if (!s.ok()) return {grpc::StatusCode::INTERNAL, s.message()};
  return grpc::Status::OK;
}

grpc::Status AgentService::Notify(grpc::ServerContext*, const workspace::v1::NotifyRequest* req,
                                  workspace::v1::NotifyResponse*) {
  if (req->line().size() > 4096 || req->exec_id().size() > 256) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "a notice over its bounds"};
  }
  std::string line = req->line();
  if (line.empty() || line.back() != '\n') line += '\n';
  NoticeBoard::Instance().Post(req->exec_id(), line);
  return grpc::Status::OK;
}

}  // namespace ws::agent
