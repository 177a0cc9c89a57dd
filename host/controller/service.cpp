#include "host/controller/service.h"

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
#include "host/controller/member_policy.h"
#include "host/controller/share_changes.h"
#include "host/shares/guard_log.h"
#include "host/shares/share_config.h"
#include "host/shares/view.h"

namespace ws::controller {
namespace v1 = workspace::v1;
namespace {

void ToProto(const net::AllowEntry& a, v1::AllowRule* out) {
  out->set_host(a.host);
  out->set_port(a.port);
  out->set_source(a.source);
}

void ToProto(const WorkspaceView& w, v1::Workspace* out, const Workspaces& all) {
  out->set_name(w.name);
  out->set_state(virt::VmStateName(w.state));
  out->set_image(w.meta.image);
  out->set_cpus(w.meta.cpus);
  out->set_memory_mib(w.meta.memory_mib);
  out->set_owner_uid(w.meta.owner_uid);
  out->set_accel(w.meta.accel);
  out->set_cpu_model(w.meta.cpu_model);
  for (auto& p : all.PortProblems(w.name)) out->add_port_problems(p);
  out->set_created_at(w.meta.created_at);
  out->set_uuid(w.uuid);
  out->set_console_log(w.meta.console_log);
  for (const auto& sh : w.meta.shares) {
    auto* s = out->add_shares();
    s->set_host_path(sh.host_path);
    s->set_guest_path(sh.guest_path);
    s->set_mode(sh.read_only ? "ro" : "rw");
    // What the share's last view covered (written by its wrapper at start).
    const auto view = shares::ReadViewReport(all.ShareSpecDir(w.name, sh.tag));
    for (const auto& h : view.hidden) s->add_hidden(h);
    for (const auto& h : view.stripped) s->add_stripped(h);
    s->set_secret_scan_cut(view.scan_cut);
    for (const auto& h : sh.shown) s->add_shown(h);
    if (!sh.read_only) {
      shares::ProtectionRules rules{sh.protect, sh.writable};
      for (const auto& rel : shares::GitHooksFolders(sh.host_path)) rules.extra.push_back(rel);
      for (const auto& p : shares::ProtectedPaths(rules)) s->add_protected_paths(p);
      for (const auto& p : sh.writable) s->add_writable(p);
      const auto guard = shares::ReadGuardState(all.ShareSpecDir(w.name, sh.tag));
      s->set_refused(static_cast<uint32_t>(std::min<uint64_t>(guard.refused, UINT32_MAX)));
      for (const auto& e : guard.recent) {
        auto* r = s->add_recent_refusals();
        r->set_time(e.time);
        r->set_op(e.op);
        r->set_path(e.path);
      }
    }
    std::error_code ec;
    if (std::filesystem::is_directory(sh.host_path + "/.git", ec)) {
      // Disk images carry git; the agent gives each read-write repository its own git dir.
      s->set_git(!sh.read_only && !w.meta.disk.empty() ? "guest-git-dir" : "read-only");
    }
  }
  out->set_net(w.meta.net);
  for (const auto& p : w.meta.ports) {
    auto* f = out->add_ports();
    f->set_host_port(p.host);
    f->set_guest_port(p.guest);
  }
  for (const auto& a : w.meta.allow) ToProto(a, out->add_allow());
  out->set_disk_gib(w.meta.disk_gib);
}

void ToProto(const ImageView& v, v1::Image* out) {
  out->set_name(v.image.name);
  out->set_size_bytes(v.image.size_bytes);
  out->set_created_at(v.image.created);
  out->set_kernel(v.image.kernel_release);
  out->set_disk(!v.image.base.empty());
  out->set_default_cpus(v.image.default_cpus);
  out->set_default_memory_mib(v.image.default_memory_mib);
  out->set_default_disk_gib(v.image.default_disk_gib);
  for (const auto& u : v.used_by) out->add_used_by(u);
  out->set_from(v.image.from);
  out->set_from_created_at(v.image.from_created);
  for (const auto& r : v.image.run) out->add_run(r);
  for (const auto& a : v.image.allow) out->add_allow(a);
  out->set_owner_uid(v.image.owner_uid);
}

// An allowlist entry as the CLI sends it, checked as one typed by a user.
Result<net::AllowEntry> FromProto(const v1::AllowRule& a) {
  std::string spec = a.host().find(':') != std::string::npos ? "[" + a.host() + "]" : a.host();
  if (a.port()) spec += ":" + std::to_string(a.port());
  // The label is checked, not trusted: one of the daemon's own.
  const std::string source = a.source().empty() ? "user" : a.source();
  if (!IsKnownAllowSource(source)) {
    return Status(Code::kInvalidArgument, "allowlist source '" + source.substr(0, 32) +
                                              "' is not one the daemon knows (user, apt, npm, pip, ai-apis)");
  }
  return net::ParseAllowEntry(spec, source);
}

}  // namespace

Result<Caller> ControllerService::Identify(Ctx* ctx) const {
  auto caller = peers_.CallerOf(ctx->peer());
  if (!caller) return Status(Code::kPermissionDenied, "cannot identify the caller of this request");
  return *caller;
}

#define WS_IDENTIFY(ctx, var)              \
  auto var##_r = Identify(ctx);            \
  if (!var##_r.ok()) return ToGrpc(var##_r.status()); \
  const Caller& var = var##_r.value()

grpc::Status ControllerService::Hello(Ctx*, const v1::HelloRequest*, v1::HelloResponse* resp) {
  resp->set_api_version(v1::API_VERSION_CURRENT);
  resp->set_daemon_version(WS_VERSION);
  resp->set_accel(virt::AccelName(workspaces_.accel()));
  return grpc::Status::OK;
}

grpc::Status ControllerService::Create(Ctx* ctx, const v1::CreateRequest* req, v1::CreateResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  CreateParams p;
  p.name = req->name();
  p.image = req->image();
  p.cpus = req->cpus();
  p.memory_mib = req->memory_mib();
  p.allow_dangerous_shares = req->allow_dangerous_shares();
  p.disk_gib = req->disk_gib();
  p.cpu_model = req->cpu_model();
  p.git_name = req->git_name();
  p.git_email = req->git_email();
  for (const auto& sh : req->shares()) {
    p.shares.push_back({sh.host_path(), sh.guest_path(), sh.read_only(), {sh.show().begin(), sh.show().end()},
                        {sh.writable().begin(), sh.writable().end()}, {sh.protect().begin(), sh.protect().end()}});
  }
  if (!req->net().empty()) p.net = req->net();
  for (const auto& f : req->publish()) {
    if (f.host_port() > 65535 || f.guest_port() == 0 || f.guest_port() > 65535) {
      return ToGrpc(Status(Code::kInvalidArgument, "ports are 1-65535"));
    }
    p.publish.push_back({static_cast<uint16_t>(f.host_port()), static_cast<uint16_t>(f.guest_port())});
  }
  for (const auto& a : req->allow()) {
    auto e = FromProto(a);
    if (!e.ok()) return ToGrpc(e.status());
    p.allow.push_back(e.value());
  }
  auto ws = workspaces_.Create(caller, p);
  if (!ws.ok()) return ToGrpc(ws.status());
  ToProto(ws.value(), resp->mutable_workspace(), workspaces_);
  return grpc::Status::OK;
}

grpc::Status ControllerService::Start(Ctx* ctx, const v1::StartRequest* req, v1::StartResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Start(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  ToProto(ws.value(), resp->mutable_workspace(), workspaces_);
  return grpc::Status::OK;
}

grpc::Status ControllerService::Stop(Ctx* ctx, const v1::StopRequest* req, v1::StopResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto forced = workspaces_.Stop(caller, req->name());
  if (!forced.ok()) return ToGrpc(forced.status());
  resp->set_forced(forced.value());
  return grpc::Status::OK;
}

grpc::Status ControllerService::Destroy(Ctx* ctx, const v1::DestroyRequest* req, v1::DestroyResponse*) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  Status s = workspaces_.Destroy(caller, req->name(), req->force());
  if (s.ok() && ws.ok()) detached_.Forget(DetachedKey(ws.value()));
  return ToGrpc(s);
}

grpc::Status ControllerService::List(Ctx* ctx, const v1::ListRequest*, v1::ListResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto list = workspaces_.List(caller);
  if (!list.ok()) return ToGrpc(list.status());
  for (const auto& w : list.value()) ToProto(w, resp->add_workspaces(), workspaces_);
  return grpc::Status::OK;
}

grpc::Status ControllerService::Inspect(Ctx* ctx, const v1::InspectRequest* req, v1::InspectResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  ToProto(ws.value(), resp->mutable_workspace(), workspaces_);
  return grpc::Status::OK;
}

namespace {

AgentLookup AgentsOf(Workspaces& workspaces) {
  return [&workspaces](const Caller& c, const std::string& name) { return workspaces.Agent(c, name); };
}

}  // namespace

grpc::Status ControllerService::Exec(
    Ctx* ctx, grpc::ServerReaderWriter<v1::WorkspaceExecResponse, v1::WorkspaceExecRequest>* stream) {
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
    const size_t want = follow ? buf.size() : static_cast<size_t>(std::min<off_t>(buf.size(), left));
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

grpc::Status ControllerService::Port(Ctx* ctx, const v1::PortRequest* req, v1::PortResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  std::vector<virt::WorkspaceMeta::Port> add;
  std::vector<uint16_t> remove;
  for (const auto& f : req->add()) {
    if (f.host_port() > 65535 || f.guest_port() == 0 || f.guest_port() > 65535) {
      return ToGrpc(Status(Code::kInvalidArgument, "ports are 1-65535"));
    }
    add.push_back({static_cast<uint16_t>(f.host_port()), static_cast<uint16_t>(f.guest_port())});
  }
  for (uint32_t r : req->remove()) remove.push_back(static_cast<uint16_t>(r));
  auto ports = workspaces_.UpdatePorts(caller, req->name(), add, remove);
  if (!ports.ok()) return ToGrpc(ports.status());
  for (const auto& p : ports.value()) {
    auto* f = resp->add_ports();
    f->set_host_port(p.host);
    f->set_guest_port(p.guest);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::Allow(Ctx* ctx, const v1::AllowRequest* req, v1::AllowResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto list = workspaces_.UpdateAllowlist(caller, req->name(), {req->add().begin(), req->add().end()},
                                          {req->remove().begin(), req->remove().end()});
  if (!list.ok()) return ToGrpc(list.status());
  for (const auto& a : list.value()) ToProto(a, resp->add_allow());
  return grpc::Status::OK;
}

grpc::Status ControllerService::Reset(Ctx* ctx, const v1::ResetRequest* req, v1::ResetResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto r = workspaces_.Reset(caller, req->name(), req->force());
  if (!r.ok()) return ToGrpc(r.status());
  ToProto(r->workspace, resp->mutable_workspace(), workspaces_);
  resp->set_discarded_bytes(r->discarded_bytes);
  return grpc::Status::OK;
}

grpc::Status ControllerService::ImageList(Ctx* ctx, const v1::ImageListRequest*, v1::ImageListResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  for (const auto& v : workspaces_.Images(caller)) ToProto(v, resp->add_images());
  for (const char* name : {"debian"}) {
    if (workspaces_.image_store().Buildable(name)) resp->add_buildable(name);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::ImageBuild(Ctx* ctx, const v1::ImageBuildRequest* req,
                                           grpc::ServerWriter<v1::ImageBuildProgress>* writer) {
  WS_IDENTIFY(ctx, caller);
  bool connected = true;
  auto on_line = [&](const std::string& line) {
    v1::ImageBuildProgress p;
    p.set_line(line);
    if (connected) connected = writer->Write(p);
  };
  // A derived image: from the request, or its recorded recipe again.
  std::optional<ImageRecipe> recipe;
  if (!req->from().empty()) {
    recipe = ImageRecipe{req->name(), req->from(), {req->run().begin(), req->run().end()},
                         {req->allow().begin(), req->allow().end()}};
  } else if (!req->run().empty() || !req->allow().empty()) {
    return ToGrpc(Status(Code::kInvalidArgument, "--run and --allow need --from IMAGE (the image to derive from)"));
  } else if (auto old = workspaces_.image_store().Recorded(req->name()); old.ok() && !old->from.empty()) {
    // Another user's image is not the caller's to see, nor its recipe to run.
    if (!caller.may_access(old->owner_uid) && old->owner_uid != 0) {
      return ToGrpc(Status(Code::kNotFound, "image '" + req->name() + "' is not installed; derive one with: "
                                            "workspace image build " + req->name() + " --from debian --run 'COMMAND'"));
    }
    recipe = ImageRecipe{old->name, old->from, old->run, old->allow};
  }
  Status s;
  if (recipe) {
    if (recipe->allow.size() > kMaxRecipeAllow) {
      return ToGrpc(Status(Code::kInvalidArgument, "an image recipe allows at most " +
                                                       std::to_string(kMaxRecipeAllow) + " extra hosts"));
    }
    DerivedBuild b{*recipe, {}};
    for (const auto& a : req->default_allow()) {
      auto e = FromProto(a);
      if (!e.ok()) return ToGrpc(e.status());
      b.allow.push_back(e.value());
    }
    for (const auto& spec : recipe->allow) {
      auto e = net::ParseAllowEntry(spec, "user");
      if (!e.ok()) return ToGrpc(e.status());
      b.allow.push_back(e.value());
    }
    // Ctrl-C in the CLI ends the build (its workspace goes with it).
    auto built = BuildDerivedImage(workspaces_, caller, b, on_line, [ctx] { return ctx->IsCancelled(); });
    s = built.status();
  } else {
    // A script's build goes on if the caller goes away: the next create needs it anyway.
    s = workspaces_.BuildImage(req->name(), on_line);
  }
  if (!s.ok()) return ToGrpc(s);
  for (const auto& v : workspaces_.Images(caller)) {
    if (v.image.name != req->name()) continue;
    v1::ImageBuildProgress last;
    ToProto(v, last.mutable_image());
    writer->Write(last);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::ImageRemove(Ctx* ctx, const v1::ImageRemoveRequest* req, v1::ImageRemoveResponse*) {
  WS_IDENTIFY(ctx, caller);
  return ToGrpc(workspaces_.RemoveImage(caller, req->name()));
}

grpc::Status ControllerService::Cache(Ctx* ctx, const v1::CacheRequest* req, v1::CacheResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  registry::Registry* reg = workspaces_.registry();
  if (!reg) return ToGrpc(Status(Code::kFailedPrecondition, "this daemon serves no registry endpoints"));
  auto config = reg->CurrentConfig();
  if (!config.ok()) return ToGrpc(config.status());
  registry::Cache& cache = reg->CacheOf(caller.uid, config.value());
  if (req->clear()) {
    auto freed = cache.Clear();
    resp->set_freed_bytes(freed.bytes);
    resp->set_freed_entries(freed.entries);
  }
  auto now = cache.Usage();
  resp->set_bytes(now.bytes);
  resp->set_entries(now.entries);
  resp->set_max_bytes(config->cache_max_bytes);
  resp->set_npm_upstream(config->npm_upstream);
  return grpc::Status::OK;
}

grpc::Status ControllerService::Changes(Ctx* ctx, const v1::ChangesRequest* req, v1::ChangesResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  const std::string name = ws->name;
  auto found = ReadShareChanges(ws->meta, [&](const std::string& tag) { return workspaces_.ShareSpecDir(name, tag); });
  for (const auto& c : found.changes) {
    auto* out = resp->add_changes();
    out->set_host_path(c.host_path);
    out->set_path(c.path);
    out->set_kind(c.kind);
    out->set_time(c.time);
    out->set_exists(c.exists);
    out->set_executable(c.executable);
  }
  resp->set_truncated(found.truncated);
  return grpc::Status::OK;
}

grpc::Status ControllerService::CopyOut(Ctx* ctx, const v1::CopyOutRequest* req,
                                        grpc::ServerWriter<v1::TreeChunk>* out) {
  WS_IDENTIFY(ctx, caller);
  return RelayCopyOut(AgentsOf(workspaces_), caller, ctx, *req, out);
}

grpc::Status ControllerService::CopyIn(Ctx* ctx, grpc::ServerReader<v1::CopyInRequest>* in,
                                       v1::WriteTreeResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  return RelayCopyIn(AgentsOf(workspaces_), caller, ctx, in, resp);
}

}  // namespace ws::controller

namespace ws::controller {

grpc::Status ControllerService::ExecDetached(Ctx* ctx, const v1::ExecDetachedRequest* req,
                                             v1::ExecDetachedResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  size_t bytes = 0;
  for (const auto& a : req->argv()) bytes += a.size() + 1;
  for (const auto& e : req->env()) bytes += e.size() + 1;
  if (req->argv().empty() || req->argv_size() + req->env_size() > 4096 || bytes > (256 << 10)) {
    return ToGrpc(Status(Code::kInvalidArgument, "a detached command needs a command, and at most 256 KiB of "
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

grpc::Status ControllerService::Processes(Ctx* ctx, const v1::ProcessesRequest* req, v1::ProcessesResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  const int64_t now = std::time(nullptr);
  for (const auto& d : detached_.List(DetachedKey(ws.value()))) {
    auto* p = resp->add_processes();
    p->set_id(d.id);
    for (const auto& a : d.argv) p->add_argv(a);
    p->set_started_at(d.started_at);
    p->set_uptime_seconds(d.running && now > d.started_unix ? static_cast<uint64_t>(now - d.started_unix) : 0);
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

}  // namespace ws::controller

namespace ws::controller {

std::string ControllerService::DetachedKey(const WorkspaceView& w) { return w.name + "@" + w.uuid; }

}  // namespace ws::controller
