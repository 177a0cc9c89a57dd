#include "host/controller/service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "host/common/grpc_status.h"
#include "host/common/printable.h"
#include "host/common/unique_fd.h"
#include "host/controller/copy_relay.h"
#include "host/controller/exec_relay.h"
#include "host/controller/image_builder.h"
#include "host/controller/member_policy.h"
#include "host/controller/service_support.h"
#include "host/controller/share_changes.h"
#include "host/github/github_http.h"
#include "host/shares/guard_log.h"
#include "host/shares/share_config.h"
#include "host/shares/view.h"
#include "host/tripwire/change_flags.h"

namespace ws::controller {
namespace v1 = workspace::v1;
namespace {

void ToProto(const net::AllowEntry& a, v1::AllowRule* out) {
  out->set_host(a.host);
  out->set_port(a.port);
  out->set_source(a.source);
  out->set_writes(a.writes);
}

void ToProto(const virt::WorkspaceMeta& m, v1::GithubRules* out) {
  for (const auto& p : m.github_push) out->add_push(p);
  for (const auto& a : m.github_api_writes) out->add_api_write(a);
}

v1::WorkspaceState ToProto(virt::VmState s) {
  switch (s) {
    case virt::VmState::kRunning:
      return v1::WORKSPACE_STATE_RUNNING;
    case virt::VmState::kStopped:
      return v1::WORKSPACE_STATE_STOPPED;
    case virt::VmState::kCrashed:
      return v1::WORKSPACE_STATE_CRASHED;
    case virt::VmState::kPaused:
      return v1::WORKSPACE_STATE_PAUSED;
    case virt::VmState::kStopping:
      return v1::WORKSPACE_STATE_STOPPING;
    case virt::VmState::kUnknown:
      return v1::WORKSPACE_STATE_UNKNOWN;
  }
  return v1::WORKSPACE_STATE_UNKNOWN;
}

void ToProto(const BootReport& b, v1::Boot* out) {
  out->set_mode(b.restored ? "template" : "cold");
  out->set_reason(b.reason);
  out->set_seconds(b.seconds);
}

void ToProto(const WorkspaceView& w, v1::Workspace* out, const Workspaces& all) {
  out->set_name(w.name);
  out->set_state(virt::VmStateName(w.state));
  out->set_state_code(ToProto(w.state));
  out->set_image(w.meta.image);
  out->set_cpus(w.meta.cpus);
  out->set_memory_mib(w.meta.memory_mib);
  out->set_owner_uid(w.meta.owner_uid);
  out->set_accel(w.meta.accel);
  out->set_cpu_model(w.meta.cpu_model);
  for (auto& p : all.PortProblems(w.name)) out->add_port_problems(p);
  for (auto& name : all.BoundSecrets(w.name, w.meta.owner_uid)) out->add_secrets(name);
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
  out->set_net(NetModeName(w.meta.net));
  for (const auto& p : w.meta.ports) {
    auto* f = out->add_ports();
    f->set_host_port(p.host);
    f->set_guest_port(p.guest);
  }
  for (const auto& a : w.meta.allow) ToProto(a, out->add_allow());
  ToProto(w.meta, out->mutable_github());
  out->set_disk_gib(w.meta.disk_gib);
  out->set_decoys(all.HasDecoys(w.name));
  out->set_unseen_alerts(
      static_cast<uint32_t>(std::min<uint64_t>(all.UnseenAlerts(w.name), UINT32_MAX)));
}

}  // namespace

// An allowlist entry as the CLI sends it, checked as one typed by a user.
Result<net::AllowEntry> FromProto(const v1::AllowRule& a) {
  std::string spec = a.host().find(':') != std::string::npos ? "[" + a.host() + "]" : a.host();
  if (a.port()) spec += ":" + std::to_string(a.port());
  // The label is checked, not trusted: one of the daemon's own.
  const std::string source = a.source().empty() ? "user" : a.source();
  if (!IsKnownAllowSource(source)) {
    return Status(Code::kInvalidArgument,
                  "allowlist source '" + source.substr(0, 32) +
                      "' is not one the daemon knows (user, apt, npm, pip, ai-apis, github)");
  }
  const auto& gh = github::GithubHosts();
  if (source == "github" &&
      (a.port() != 443 || std::find(gh.begin(), gh.end(), a.host()) == gh.end())) {
    return Status(Code::kInvalidArgument,
                  "allowlist source 'github' is for the GitHub hosts on 443");
  }
  return net::ParseAllowEntry(spec, source);
}

Result<Caller> ControllerService::Identify(Ctx* ctx) const {
  auto caller = peers_.CallerOf(ctx->peer());
  if (!caller) return Status(Code::kPermissionDenied, "cannot identify the caller of this request");
  return *caller;
}

grpc::Status ControllerService::Hello(Ctx*, const v1::HelloRequest*, v1::HelloResponse* resp) {
  resp->set_api_version(v1::API_VERSION_CURRENT);
  resp->set_daemon_version(WS_VERSION);
  resp->set_accel(virt::AccelName(workspaces_.accel()));
  return grpc::Status::OK;
}

grpc::Status ControllerService::Create(Ctx* ctx, const v1::CreateRequest* req,
                                       v1::CreateResponse* resp) {
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
  p.secrets.assign(req->secrets().begin(), req->secrets().end());
  for (const auto& sh : req->shares()) {
    p.shares.push_back({sh.host_path(),
                        sh.guest_path(),
                        sh.read_only(),
                        {sh.show().begin(), sh.show().end()},
                        {sh.writable().begin(), sh.writable().end()},
                        {sh.protect().begin(), sh.protect().end()}});
  }
  if (!req->net().empty()) {
    auto mode = ParseNetMode(req->net());
    if (!mode)
      return ToGrpc(
          Status(Code::kInvalidArgument, "--net " + req->net() + ": use allowlist, none or open"));
    p.net = *mode;
  }
  for (const auto& f : req->publish()) {
    if (f.host_port() > 65535 || f.guest_port() == 0 || f.guest_port() > 65535) {
      return ToGrpc(Status(Code::kInvalidArgument, "ports are 1-65535"));
    }
    p.publish.push_back(
        {static_cast<uint16_t>(f.host_port()), static_cast<uint16_t>(f.guest_port())});
  }
  for (const auto& a : req->allow()) {
    auto e = FromProto(a);
    if (!e.ok()) return ToGrpc(e.status());
    p.allow.push_back(e.value());
  }
  p.github_push = {req->github().push().begin(), req->github().push().end()};
  p.github_api_writes = {req->github().api_write().begin(), req->github().api_write().end()};
  p.decoys = !req->no_decoys();
  p.cold_boot = req->cold_boot();
  auto ws = workspaces_.Create(caller, p);
  if (!ws.ok()) return ToGrpc(ws.status());
  ToProto(ws.value(), resp->mutable_workspace(), workspaces_);
  ToProto(ws->boot, resp->mutable_boot());
  return grpc::Status::OK;
}

grpc::Status ControllerService::Alerts(Ctx* ctx, const v1::AlertsRequest* req,
                                       v1::AlertsResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto view = workspaces_.Alerts(caller, req->workspace(), req->mark_seen());
  if (!view.ok()) return ToGrpc(view.status());
  resp->set_decoys(view->decoys);
  resp->set_dropped(view->dropped);
  for (size_t i = 0; i < view->alerts.size(); ++i) {
    const auto& a = view->alerts[i];
    auto* out = resp->add_alerts();
    // Written by the host, from guest-given text: cleaned again on the way out.
    out->set_time(GuestText(a.time, 64));
    out->set_decoy(GuestText(a.decoy, 64));
    out->set_where(GuestText(a.where, 256));
    out->set_channel(GuestText(a.channel, 64));
    out->set_target(GuestText(a.target));
    out->set_detail(GuestText(a.detail));
    out->set_pid(a.pid);
    out->set_command(GuestText(a.command));
    out->set_exec_id(GuestText(a.exec_id, 256));
    out->set_seen(i < view->seen);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::Checkpoint(Ctx* ctx, const v1::CheckpointRequest* req,
                                           v1::CheckpointResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  if (req->remove()) {
    return ToGrpc(workspaces_.RemoveCheckpoint(caller, req->workspace(), req->label()));
  }
  if (req->list()) {
    auto list = workspaces_.Checkpoints(caller, req->workspace());
    if (!list.ok()) return ToGrpc(list.status());
    for (const auto& cp : list.value()) {
      auto* out = resp->add_checkpoints();
      out->set_label(cp.label);
      out->set_created_at(cp.created_at);
    }
    return grpc::Status::OK;
  }
  auto cp = workspaces_.Checkpoint(caller, req->workspace(), req->label());
  if (!cp.ok()) return ToGrpc(cp.status());
  auto* out = resp->add_checkpoints();
  out->set_label(cp->label);
  out->set_created_at(cp->created_at);
  resp->set_seconds(cp->seconds);
  return grpc::Status::OK;
}

grpc::Status ControllerService::Rollback(Ctx* ctx, const v1::RollbackRequest* req,
                                         v1::RollbackResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto r = workspaces_.Rollback(caller, req->workspace(), req->label());
  if (!r.ok()) return ToGrpc(r.status());
  ToProto(r->workspace, resp->mutable_workspace(), workspaces_);
  resp->set_label(r->label);
  resp->set_discarded_bytes(r->discarded_bytes);
  resp->set_seconds(r->seconds);
  return grpc::Status::OK;
}

grpc::Status ControllerService::Diff(Ctx* ctx, const v1::DiffRequest* req, v1::DiffResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto d = workspaces_.Diff(caller, req->workspace(), req->label());
  if (!d.ok()) return ToGrpc(d.status());
  resp->set_since(d->since);
  resp->set_cut(d->diff.cut);
  resp->set_files_walked(d->diff.files_walked);
  resp->set_changed_bytes(d->diff.changed_bytes);
  resp->set_seconds(d->seconds);
  for (const auto& u : d->diff.unreadable) resp->add_unreadable(GuestText(u, 4096));
  struct Row {
    int rank;
    const store::DiskChange* change;
    std::vector<std::string> flags;
  };
  std::vector<Row> rows;
  for (const auto& c : d->diff.changes) {
    // A removed one's flags say what it was (a hook that went).
    auto flags = tripwire::ChangeFlags(c.path, c.mode);
    rows.push_back({tripwire::FlagRank(flags), &c, std::move(flags)});
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.rank < b.rank; });
  for (const auto& r : rows) {
    auto* e = resp->add_entries();
    e->set_path(GuestText(r.change->path, 4096));
    e->set_change(store::DiskChangeKindName(r.change->kind));
    const uint32_t type = r.change->mode & 0170000;
    e->set_type(type == 0100000   ? "file"
                : type == 040000  ? "dir"
                : type == 0120000 ? "symlink"
                                  : "other");
    e->set_size(r.change->size);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", r.change->mode & 07777);
    e->set_mode(mode);
    e->set_uid(r.change->uid);
    e->set_gid(r.change->gid);
    for (const auto& f : r.flags) e->add_flags(f);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::Start(Ctx* ctx, const v1::StartRequest* req,
                                      v1::StartResponse* resp) {
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

grpc::Status ControllerService::Destroy(Ctx* ctx, const v1::DestroyRequest* req,
                                        v1::DestroyResponse*) {
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

grpc::Status ControllerService::Inspect(Ctx* ctx, const v1::InspectRequest* req,
                                        v1::InspectResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  ToProto(ws.value(), resp->mutable_workspace(), workspaces_);
  return grpc::Status::OK;
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

grpc::Status ControllerService::Allow(Ctx* ctx, const v1::AllowRequest* req,
                                      v1::AllowResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  AllowChange change;
  change.add = {req->add().begin(), req->add().end()};
  change.remove = {req->remove().begin(), req->remove().end()};
  change.writes = req->writes();
  change.push = {req->push().begin(), req->push().end()};
  change.api_writes = {req->api_write().begin(), req->api_write().end()};
  auto meta = workspaces_.UpdateAllowlist(caller, req->name(), change);
  if (!meta.ok()) return ToGrpc(meta.status());
  for (const auto& a : meta->allow) ToProto(a, resp->add_allow());
  ToProto(meta.value(), resp->mutable_github());
  return grpc::Status::OK;
}

grpc::Status ControllerService::Reset(Ctx* ctx, const v1::ResetRequest* req,
                                      v1::ResetResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto r = workspaces_.Reset(caller, req->name(), req->force(), req->cold_boot());
  if (!r.ok()) return ToGrpc(r.status());
  ToProto(r->workspace, resp->mutable_workspace(), workspaces_);
  ToProto(r->workspace.boot, resp->mutable_boot());
  resp->set_discarded_bytes(r->discarded_bytes);
  return grpc::Status::OK;
}

grpc::Status ControllerService::Changes(Ctx* ctx, const v1::ChangesRequest* req,
                                        v1::ChangesResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto ws = workspaces_.Inspect(caller, req->name());
  if (!ws.ok()) return ToGrpc(ws.status());
  const std::string name = ws->name;
  auto found = ReadShareChanges(
      ws->meta, [&](const std::string& tag) { return workspaces_.ShareSpecDir(name, tag); });
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

}  // namespace ws::controller
