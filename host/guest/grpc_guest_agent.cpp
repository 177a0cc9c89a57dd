#include "host/guest/grpc_guest_agent.h"

#include <grpcpp/create_channel_posix.h>

#include <optional>
#include <thread>

#include "host/common/unix_socket.h"

namespace ws::guest {
namespace {

using Clock = std::chrono::system_clock;

// Strings from the guest are shown to users: keep them short and printable.
std::string Clean(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 256)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

Status FromGrpc(const grpc::Status& s, const std::string& what) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK: return Status::Ok();
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return {Code::kDeadlineExceeded, what + ": the guest agent did not answer in time"};
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      return {Code::kUnavailable, what + ": the guest agent connection is down"};
    default: return {Code::kInternal, what + ": guest agent error: " + Clean(s.error_message())};
  }
}

}  // namespace

GrpcGuestAgent::GrpcGuestAgent(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(workspace::v1::GuestAgent::NewStub(channel_)) {}

Result<std::shared_ptr<GrpcGuestAgent>> GrpcGuestAgent::Connect(const std::string& socket_path,
                                                               std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;  // for the connect and the handshake together
  // gRPC's fd transport wants it non-blocking, as ConnectUnix returns it.
  auto fd = ConnectUnix(socket_path, timeout);
  if (!fd.ok()) return Status(fd.status().code(), "guest agent: " + fd.status().message());
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxAgentMessage);
  args.SetMaxSendMessageSize(kMaxAgentMessage);
  auto channel = grpc::CreateCustomInsecureChannelFromFd("workspace-agent", fd->release(), args);
  std::shared_ptr<GrpcGuestAgent> agent(new GrpcGuestAgent(std::move(channel)));

  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  ctx.set_wait_for_ready(true);
  workspace::v1::InfoRequest req;
  workspace::v1::InfoResponse resp;
  grpc::Status s = agent->stub_->Info(&ctx, req, &resp);
  if (!s.ok()) return FromGrpc(s, "guest agent handshake");
  if (resp.protocol_version() != workspace::v1::PROTOCOL_VERSION_CURRENT) {
    return Status(Code::kFailedPrecondition,
                  "the guest agent speaks protocol " + std::to_string(resp.protocol_version()) +
                      " (agent " + Clean(resp.agent_version()) + "), this host speaks " +
                      std::to_string(workspace::v1::PROTOCOL_VERSION_CURRENT) +
                      "; rebuild the image with ./scripts/setup");
  }
  // After the handshake: QEMU takes one client per socket, and an attempt
  // that failed must not hold the port.
  agent->bulk_ = BulkReader::Connect(BulkSocketPath(socket_path));
  return agent;
}

Result<AgentInfo> GrpcGuestAgent::Info(std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Clock::now() + timeout);
  workspace::v1::InfoRequest req;
  workspace::v1::InfoResponse resp;
  grpc::Status s = stub_->Info(&ctx, req, &resp);
  Observe(s);
  if (!s.ok()) return FromGrpc(s, "guest info");
  AgentInfo info;
  info.agent_version = Clean(resp.agent_version());
  info.kernel_release = Clean(resp.kernel_release());
  info.hostname = Clean(resp.hostname());
  info.uptime_seconds = resp.uptime_seconds();
  return info;
}

Status GrpcGuestAgent::Shutdown(std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Clock::now() + timeout);
  workspace::v1::ShutdownRequest req;
  workspace::v1::ShutdownResponse resp;
  grpc::Status s = stub_->Shutdown(&ctx, req, &resp);
  Observe(s);
  return FromGrpc(s, "guest shutdown");
}

Result<RunExit> GrpcGuestAgent::Run(const RunSpec& spec, const std::function<void(std::string_view)>& on_output,
                                    const std::function<bool()>& cancelled) {
  grpc::ClientContext ctx;
  std::atomic<bool> done{false};
  // A command's output may pause for minutes: the watcher, not a deadline,
  // ends a cancelled call.
  std::thread watcher([&] {
    while (!done) {
      if (cancelled()) {
        ctx.TryCancel();
        return;
      }
      for (int i = 0; i < 10 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto stream = stub_->Exec(&ctx);
  workspace::v1::ExecRequest start;
  for (const auto& a : spec.argv) start.mutable_start()->add_argv(a);
  for (const auto& kv : spec.env) start.mutable_start()->add_env(kv);
  start.mutable_start()->set_cwd(spec.cwd);
  start.mutable_start()->set_user(spec.user);
  start.mutable_start()->set_timeout_seconds(static_cast<uint32_t>(spec.timeout.count()));
  std::optional<RunExit> exit;
  if (stream->Write(start)) {
    stream->WritesDone();
    workspace::v1::ExecResponse m;
    while (stream->Read(&m)) {
      if (m.has_exit()) {
        const auto& e = m.exit();
        if (e.status_case() == workspace::v1::ExecExit::kCode && e.code() >= 0 && e.code() <= 255) {
          exit = RunExit{e.code(), e.timed_out()};
        } else if (e.status_case() == workspace::v1::ExecExit::kSignal && e.signal() > 0 && e.signal() < 65) {
          exit = RunExit{128 + e.signal(), e.timed_out()};
        }
      } else if (m.kind_case() == workspace::v1::ExecResponse::kStdout) {
        on_output(m.stdout());
      } else if (m.kind_case() == workspace::v1::ExecResponse::kStderr) {
        on_output(m.stderr());
      }
    }
  }
  grpc::Status s = stream->Finish();
  done = true;
  watcher.join();
  Observe(s);
  if (cancelled()) return Status(Code::kUnavailable, "cancelled");
  if (!s.ok()) return FromGrpc(s, "running " + (spec.argv.empty() ? "" : Clean(spec.argv[0])));
  if (!exit) return Status(Code::kInternal, "the guest agent sent no valid exit status");
  return *exit;
}

BulkReader* GrpcGuestAgent::bulk() const { return bulk_ && bulk_->Alive() ? bulk_.get() : nullptr; }

void GrpcGuestAgent::Observe(const grpc::Status& s) {
  // Not DEADLINE_EXCEEDED: a slow guest is not a dead transport.
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::INTERNAL) {
    MarkBroken();
  }
}

}  // namespace ws::guest
