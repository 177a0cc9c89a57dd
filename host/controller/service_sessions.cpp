// ControllerService: the RPCs that carry a session with a guest (exec,
// logs, audit, cp, detached execs).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "host/common/grpc_status.h"
#include "host/common/unique_fd.h"
#include "host/controller/copy_relay.h"
#include "host/controller/exec_relay.h"
#include "host/controller/image_builder.h"
#include "host/controller/service.h"
#include "host/controller/service_support.h"
#include "host/shares/view.h"

namespace ws::controller {
namespace v1 = workspace::v1;

namespace {

AgentLookup AgentsOf(Workspaces& workspaces) {
  return
      [&workspaces](const Caller& c, const std::string& name) { return workspaces.Agent(c, name); };
}

}  // namespace

grpc::Status ControllerService::Exec(
    Ctx* ctx,
    grpc::ServerReaderWriter<v1::WorkspaceExecResponse, v1::WorkspaceExecRequest>* stream) {
  WS_IDENTIFY(ctx, caller);
  return RelayExec(AgentsOf(workspaces_), caller, ctx, stream);
}

grpc::Status ControllerService::StreamFile(Ctx* ctx, const Caller& caller, const std::string& name,
                                           const std::string& path, bool follow,
                                           grpc::ServerWriter<v1::LogsResponse>* writer,
                                           const std::function<bool()>& going) {
  unique_fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string buf(64 * 1024, '\0');
  v1::LogsResponse chunk;
  // Without follow: what the file held when asked, however fast the guest
  // writes on.
  off_t left = 0;
  if (struct stat st{}; !follow && fd && fstat(fd.get(), &st) == 0) left = st.st_size;
  int idle_polls = 0;
  bool ended_seen = false;
  for (;;) {
    if (!fd) fd.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));  // not written yet
    const size_t want =
        follow ? buf.size() : static_cast<size_t>(std::min<off_t>(buf.size(), left));
    ssize_t n = fd && want ? read(fd.get(), buf.data(), want) : 0;
    if (n > 0) {
      left -= n;
      chunk.set_data(buf.data(), static_cast<size_t>(n));
      if (!writer->Write(chunk)) return grpc::Status::CANCELLED;
      continue;
    }
    if (!follow || ctx->IsCancelled()) return grpc::Status::OK;
    // Ended, and read to its end (a last look after it ended).
    if (going && !going()) {
      if (ended_seen) return grpc::Status::OK;
      ended_seen = true;
      continue;
    }
    // At the end: the file may have been rotated since (audit.log moved to
    // .1: on with the new one) or cut short (the console cap: on from its
    // new start).
    if (struct stat st{}, now{}; fd && fstat(fd.get(), &st) == 0) {
      if (stat(path.c_str(), &now) == 0 && (now.st_ino != st.st_ino || now.st_dev != st.st_dev)) {
        fd.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
        continue;
      }
      if (lseek(fd.get(), 0, SEEK_CUR) > st.st_size) {
        lseek(fd.get(), 0, SEEK_SET);
        continue;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // Every few seconds, check the workspace still exists.
    if (++idle_polls % 25 == 0 && !workspaces_.Inspect(caller, name).ok()) return grpc::Status::OK;
  }
}

grpc::Status ControllerService::Logs(Ctx* ctx, const v1::LogsRequest* req,
                                     grpc::ServerWriter<v1::LogsResponse>* writer) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  if (!req->exec_id().empty()) {
    const std::string key = DetachedKey(ws.value()), id = req->exec_id();
    auto log = detached_.LogPath(key, id);
    if (!log.ok()) return ToGrpc(log.status());
    grpc::Status s = StreamFile(ctx, caller, req->name(), log.value() + ".1", false, writer);
    if (!s.ok()) return s;
    return StreamFile(ctx, caller, req->name(), log.value(), req->follow(), writer,
                      [&] { return detached_.Running(key, id); });
  }
  // What the console cap kept of the earlier output first.
  grpc::Status s = StreamFile(ctx, caller, req->name(), ws->meta.console_log + ".1", false, writer);
  if (!s.ok()) return s;
  return StreamFile(ctx, caller, req->name(), ws->meta.console_log, req->follow(), writer);
}

grpc::Status ControllerService::Audit(Ctx* ctx, const v1::AuditRequest* req,
                                      grpc::ServerWriter<v1::LogsResponse>* writer) {
  WS_IDENTIFY(ctx, caller);
  auto path = workspaces_.AuditLogPath(caller, req->name());
  if (!path.ok()) return ToGrpc(path.status());
  return StreamFile(ctx, caller, req->name(), path.value(), req->follow(), writer);
}

grpc::Status ControllerService::CopyOut(Ctx* ctx, const v1::CopyOutRequest* req,
                                        grpc::ServerWriter<v1::TreeChunk>* out) {
  WS_IDENTIFY(ctx, caller);
  return RelayCopyOut(AgentsOf(workspaces_), caller, ctx, *req, out,
                      workspaces_.TripwireFor(req->workspace()));
}

grpc::Status ControllerService::CopyIn(Ctx* ctx, grpc::ServerReader<v1::CopyInRequest>* in,
                                       v1::WriteTreeResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  return RelayCopyIn(AgentsOf(workspaces_), caller, ctx, in, resp);
}

grpc::Status ControllerService::ExecDetached(Ctx* ctx, const v1::ExecDetachedRequest* req,
                                             v1::ExecDetachedResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  size_t bytes = 0;
  for (const auto& a : req->argv()) bytes += a.size() + 1;
  for (const auto& e : req->env()) bytes += e.size() + 1;
  if (req->argv().empty() || req->argv_size() + req->env_size() > 4096 || bytes > (256 << 10)) {
    return ToGrpc(Status(Code::kInvalidArgument,
                         "a detached command needs a command, and at most 256 KiB of "
                         "arguments and environment"));
  }
  // The agent first (it waits for a create or start under way), then the
  // UUID of the workspace that agent serves.
  auto agent = workspaces_.Agent(caller, req->name());
  if (!agent.ok()) return ToGrpc(agent.status());
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  guest::RunSpec spec;
  spec.argv = {req->argv().begin(), req->argv().end()};
  spec.env = {req->env().begin(), req->env().end()};
  spec.cwd = req->cwd();
  spec.user = req->user();
  auto id = detached_.Start(DetachedKey(ws.value()), caller.uid, agent.value(), std::move(spec),
                            workspaces_.layout().WorkspaceDir(req->name()) + "/detached");
  if (!id.ok()) return ToGrpc(id.status());
  resp->set_id(id.value());
  return grpc::Status::OK;
}

grpc::Status ControllerService::Processes(Ctx* ctx, const v1::ProcessesRequest* req,
                                          v1::ProcessesResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  const int64_t now = std::time(nullptr);
  for (const auto& d : detached_.List(DetachedKey(ws.value()))) {
    auto* p = resp->add_processes();
    p->set_id(d.id);
    for (const auto& a : d.argv) p->add_argv(a);
    p->set_started_at(d.started_at);
    p->set_uptime_seconds(
        d.running && now > d.started_unix ? static_cast<uint64_t>(now - d.started_unix) : 0);
    p->set_state(d.running ? "running" : d.killed ? "killed" : d.error.empty() ? "exited" : "lost");
    p->set_exit_code(d.exit_code);
    p->set_error(d.error);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::Kill(Ctx* ctx, const v1::KillRequest* req, v1::KillResponse*) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  return ToGrpc(detached_.Kill(DetachedKey(ws.value()), req->id()));
}

std::string ControllerService::DetachedKey(const WorkspaceView& w) { return w.name + "@" + w.uuid; }

}  // namespace ws::controller
