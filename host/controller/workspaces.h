// Workspaces: the controller's domain logic — create, start, stop, destroy,
// list, inspect — over a Hypervisor, the state dir and the guest agents.
// Every call is made on behalf of a Caller and checks ownership. Operations
// on one workspace are serialized; different workspaces proceed in parallel.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "host/controller/agent_pool.h"
#include "host/controller/caller.h"
#include "host/controller/guest_network.h"
#include "host/controller/images.h"
#include "host/controller/templates.h"
#include "host/guest/bulk_stream.h"
#include "host/net/egress_relay.h"
#include "host/net/port_forward.h"
#include "host/shares/share_spec.h"
#include "host/store/disk_diff.h"
#include "host/store/layout.h"
#include "host/store/secret_store.h"
#include "host/tripwire/alerts.h"
#include "host/virt/accel.h"
#include "host/virt/hypervisor.h"
#include "host/virt/metadata.h"

namespace ws::controller {

struct CreateParams {
  std::string name;
  std::string image;        // empty: the default image
  uint32_t cpus = 0;        // 0: the image's default
  uint32_t memory_mib = 0;  // 0: the image's default
  std::vector<shares::ShareSpec> shares;
  bool allow_dangerous_shares = false;  // / or the caller's home
  NetMode net = NetMode::kAllowlist;
  std::vector<net::AllowEntry> allow;
  std::vector<virt::WorkspaceMeta::Port> publish;  // host 0: any free port
  uint32_t disk_gib = 0;                           // 0: the image's default (disk images only)
  std::string cpu_model;                           // empty: auto (host/virt/cpu_model.h)
  std::string git_name;                            // the caller's git identity, for the guest
  std::string git_email;
  std::vector<std::string> secrets;  // the caller's, by name: bound from the start
  // The GitHub rule set's (allow NAME github), as given: checked at create.
  std::vector<std::string> github_push, github_api_writes;
  bool decoys = true;      // decoy credentials in the guest's home (issue #23)
  bool cold_boot = false;  // boot the kernel even when a template is ready (issue #24)
};

// One secret bound to a workspace, as the CLI may see it.
struct BindingView {
  std::string secret;
  std::string host;
  std::string env;
};

// A secret as the CLI may see it (no value), with the caller's workspaces
// bound to it.
struct SecretView {
  store::Secret secret;
  std::vector<std::string> bound_to;
};

// How a fresh guest came up (create, reset): restored from its template,
// or booted cold and why.
struct BootReport {
  bool restored = false;
  std::string reason;  // why cold ("" when restored)
  double seconds = 0;  // until the agent had its identity
};

// A workspace as callers see it.
struct WorkspaceView {
  std::string name;
  std::string uuid;
  virt::VmState state = virt::VmState::kUnknown;
  virt::WorkspaceMeta meta;
  BootReport boot;  // create and reset only
};

struct ResetResult {
  WorkspaceView workspace;
  uint64_t discarded_bytes = 0;  // what the old overlay held
};

// A checkpoint of a workspace's root disk (workspace_checkpoints.cpp).
struct CheckpointView {
  std::string label;
  std::string layer;  // the frozen qcow2 layer (host path)
  std::string created_at;
  double seconds = 0;  // what taking it took
};

struct RollbackResult {
  WorkspaceView workspace;
  std::string label;
  uint64_t discarded_bytes = 0;  // what the layers after the checkpoint held
  double seconds = 0;
};

struct DiffView {
  std::string since;  // "create" or a checkpoint's label
  store::DiskDiff diff;
  double seconds = 0;
};

// Most checkpoints a workspace keeps.
inline constexpr size_t kMaxCheckpoints = 16;

struct ImageView {
  Image image;
  std::vector<std::string> used_by;  // workspaces made from it
  std::vector<TemplateInfo> templates;
};

// Scripted images are everyone's; a derived image is its builder's, or
// everyone's when root built it.
bool MayUseImage(const Caller& c, const Image& img);

struct HostLimits {
  uint32_t cpus = 1;
  uint64_t memory_mib = 1024;
};

// What `workspace allow` changes.
struct AllowChange {
  std::vector<std::string> add, remove;  // HOST[:PORT], *.DOMAIN, or "github" (the rule set)
  bool writes = false;                   // the registries added take writes
  // With "github" added: its rules, replacing the ones it had.
  std::vector<std::string> push, api_writes;
};

class Workspaces {
 public:
  Workspaces(virt::Hypervisor& hv, store::Layout layout, ImageStore& images,
             AgentPool::Dial dial_agent, virt::Accel accel, HostLimits limits,
             std::string default_image, std::string virtiofsd_binary);

  Result<WorkspaceView> Create(const Caller& c, const CreateParams& p);
  Result<WorkspaceView> Start(const Caller& c, const std::string& name);
  // Ok(true) when the guest had to be forced off.
  Result<bool> Stop(const Caller& c, const std::string& name);
  Status Destroy(const Caller& c, const std::string& name, bool force);
  // Stops the workspace if it runs, replaces its root disk overlay with a
  // fresh one on the same base, and boots it. Shares are not touched.
  // Unless forced, refuses when the guest's git directories hold commits
  // the host has not fetched (unfetched_commits.h); so does Destroy.
  Result<ResetResult> Reset(const Caller& c, const std::string& name, bool force,
                            bool cold_boot = false);
  // Images, and which workspaces (of every user) use each.
  // Images the caller may use (derived images are their builder's, and
  // root's are everyone's), with the caller's workspaces made from each.
  std::vector<ImageView> Images(const Caller& c);
  Status RemoveImage(const Caller& c, const std::string& name);
  Status BuildImage(const std::string& name,
                    const std::function<void(const std::string&)>& on_line);
  ImageStore& image_store() { return images_; }
  // The registry endpoints workspaces' egress serves (null: none). Set before serving.
  void SetRegistry(registry::Registry* r) { net_.SetRegistry(r); }
  // Fresh guests are restored from templates (none: always cold boots).
  void SetTemplates(Templates* t) { templates_ = t; }
  Templates* templates() { return templates_; }
  // Off only for benchmarks (WORKSPACE_SHARE_GUARD=off in the daemon's
  // environment): read-write shares then have no guard (guard.h).
  void SetShareGuard(bool on) { share_guard_ = on; }
  registry::Registry* registry() const { return net_.registry(); }
  Result<std::vector<WorkspaceView>> List(const Caller& c);
  Result<WorkspaceView> Inspect(const Caller& c, const std::string& name);
  // Published ports that did not open again at the last start.
  std::vector<std::string> PortProblems(const std::string& name) const {
    return net_.Problems(name);
  }
  // Adds and removes allowlist entries (and the GitHub rule set, named
  // "github"); effective for the next connection. Returns the metadata after.
  Result<virt::WorkspaceMeta> UpdateAllowlist(const Caller& c, const std::string& name,
                                              const AllowChange& change);
  // Publishes guest ports on 127.0.0.1 / stops publishing host ports;
  // returns the workspace's published ports.
  Result<std::vector<virt::WorkspaceMeta::Port>> UpdatePorts(
      const Caller& c, const std::string& name, const std::vector<virt::WorkspaceMeta::Port>& add,
      const std::vector<uint16_t>& remove);
  // STATE/workspaces/NAME/audit.log of a workspace the caller may see.
  Result<std::string> AuditLogPath(const Caller& c, const std::string& name);
  // After a daemon restart: takes up the egress of every running workspace.
  void ResumeAll();
  // A connected agent of a running workspace the caller may use, once any
  // lifecycle operation on it under way has ended.
  Result<std::shared_ptr<guest::GuestAgent>> Agent(const Caller& c, const std::string& name);

  // STATE/workspaces/NAME/shares/TAG: a share's share.conf and what its
  // guard wrote (guard_log.h).
  std::string ShareSpecDir(const std::string& name, const std::string& tag) const;

  virt::Accel accel() const { return accel_; }
  const store::Layout& layout() const { return layout_; }

  // Secrets (workspace_secrets.cpp): the caller's own, kept on the host;
  // bound to a workspace, each is injected by the host into requests to its
  // host, and the guest holds only a placeholder.
  Status AddSecret(const Caller& c, store::Secret s);
  Result<std::vector<SecretView>> ListSecrets(const Caller& c);
  // Unbinds it from the caller's workspaces (returned) and forgets it.
  Result<std::vector<std::string>> RemoveSecret(const Caller& c, const std::string& name);
  Result<std::vector<BindingView>> BindSecrets(const Caller& c, const std::string& workspace,
                                               const std::vector<std::string>& add,
                                               const std::vector<std::string>& remove);
  // The names of the secrets bound to a workspace (for inspect).
  std::vector<std::string> BoundSecrets(const std::string& name, uid_t owner) const;
  // Checkpoints of the root disk, rollback to one, and what changed on the
  // disk since one or since create (workspace_checkpoints.cpp, issue #23).
  // An empty label: the next cp-N (checkpoint), the last one (rollback),
  // since create (diff).
  Result<CheckpointView> Checkpoint(const Caller& c, const std::string& name, std::string label);
  Result<std::vector<CheckpointView>> Checkpoints(const Caller& c, const std::string& name);
  Status RemoveCheckpoint(const Caller& c, const std::string& name, const std::string& label);
  Result<RollbackResult> Rollback(const Caller& c, const std::string& name,
                                  const std::string& label);
  Result<DiffView> Diff(const Caller& c, const std::string& name, const std::string& label);

  // Decoys and alerts (workspace_tripwire.cpp, issue #23): a workspace's
  // alerts, all marked seen when `mark_seen`.
  struct AlertsView {
    bool decoys = false;
    std::vector<tripwire::Alert> alerts;
    uint64_t seen = 0;  // the first `seen` were seen before
    uint64_t dropped = 0;
  };
  Result<AlertsView> Alerts(const Caller& c, const std::string& name, bool mark_seen);
  bool HasDecoys(const std::string& name) const;
  // A running workspace's tripwire (null: no decoys, or not armed yet).
  std::shared_ptr<tripwire::Tripwire> TripwireFor(const std::string& name);
  uint64_t UnseenAlerts(const std::string& name) const;

  // The daemon's TLS for interception (set once, before serving).
  void SetInterceptTls(std::shared_ptr<net::InterceptTls> tls) { net_.SetInterceptTls(tls); }

 private:
  Result<WorkspaceView> Find(const Caller& c, const std::string& name);
  // Start and Stop with the workspace's lock held.
  // `fresh`: its disk was just made (reset): restored from a template
  // unless `cold`.
  Result<WorkspaceView> StartLocked(WorkspaceView ws, bool fresh = false, bool cold = false);
  Result<bool> StopLocked(const WorkspaceView& ws);
  // Where stop records the guest's unfetched commits.
  std::string UnfetchedRecord(const std::string& name) const;
  // Before a boot: "not known" for a workspace with guest git shares.
  Status MarkUnfetchedUnknown(const std::string& name, const virt::WorkspaceMeta& meta);
  // Deletes base disks no image and no workspace's overlay refers to.
  void CollectUnusedBases();
  // Boots the fresh disk of a defined, stopped workspace: restored from
  // its template when one is ready and not `cold`, else a cold boot (and a
  // template built later). Either way the guest gets its identity.
  Result<BootReport> BootFresh(const std::string& name, const std::string& uuid,
                               const virt::WorkspaceMeta& meta, bool cold);
  Status RestoreFromTemplate(const std::string& name, const std::string& uuid,
                             const virt::WorkspaceMeta& meta, const TemplateFiles& files,
                             std::string* steps, bool* template_fault);
  // The template a workspace of this shape restores from.
  Result<TemplateKey> TemplateKeyFor(const virt::WorkspaceMeta& meta);
  virt::VmSpec TemplateVm(const virt::WorkspaceMeta& meta);
  // Keeps the boot words a restored guest is handed (boot.params).
  Status KeepBootWords(const std::string& name, const std::string& words);
  // Hands the guest who it is (agent.proto's Identity).
  Status IntroduceGuest(const std::string& name);
  // Waits for the agent of a VM just started. A guest kernel panic on the
  // console (from byte `console_from` of `console_log`: the file keeps every
  // boot) fails it at once and stops the VM, which would reboot into the
  // same panic until the timeout.
  // `restart`: a boot that reached no agent halfway through is started
  // over once (never a restored guest: its disk is the template's).
  Status WaitForAgent(const std::string& name, std::chrono::seconds timeout,
                      const std::string& console_log, uintmax_t console_from, bool restart = true);
  std::shared_ptr<std::mutex> LockFor(const std::string& name);
  void RemoveFiles(const std::string& name, const virt::WorkspaceMeta& meta);
  // Writes each share's spec dir (share.conf for workspace-virtiofsd).
  Status PrepareShares(const std::string& name, const virt::WorkspaceMeta& meta);
  // A guest just booted: its egress and published ports.
  void AttachGuest(const std::string& name, const virt::WorkspaceMeta& meta);
  // The workspace's bindings as its egress and guest need them: plans for
  // the egress relay (with the workspace CA) and the guest's CA and
  // placeholders. Fails closed: a binding whose secret is gone is dropped
  // from the guest and its host refuses requests.
  // at_boot: a guest just booted, with nothing set yet.
  Status ApplySecrets(const std::string& name, const virt::WorkspaceMeta& meta, bool at_boot);
  struct Bound {
    std::string secret;
    std::string placeholder;
  };
  std::string BindingsPath(const std::string& name) const;
  // STATE/workspaces/NAME/checkpoints.json: labels and frozen layers, oldest first.
  struct CheckpointItem {
    std::string label, layer, created_at;
  };
  struct CheckpointList {
    uint64_t next = 1;  // the number of the next layer file (disk-N.qcow2)
    std::vector<CheckpointItem> items;
  };
  std::string CheckpointsPath(const std::string& name) const;
  // The index of `label` in the list; kNotFound saying how to list them.
  static Result<size_t> FindCheckpoint(const CheckpointList& list, const std::string& name,
                                       const std::string& label);
  std::string LayerPath(const std::string& name, uint64_t number) const;
  Result<CheckpointList> ReadCheckpoints(const std::string& name) const;
  Status WriteCheckpoints(const std::string& name, const CheckpointList& list) const;
  void QuiesceGuest(const std::string& name, const std::function<void()>& then);
  // Every layer but `keep` and the list go (reset); returns what they held.
  uint64_t DropCheckpoints(const std::string& name, const std::string& keep);
  // STATE/workspaces/NAME/decoys.json: a fresh set at create.
  std::string DecoysPath(const std::string& name) const;
  Status WriteDecoys(const std::string& name);
  // What the guest gets of them (home files, variables) and the egress's
  // tripwire; none when the workspace has no decoys.
  void ArmTripwire(const std::string& name, guest::GuestSettings* settings);
  Result<std::vector<Bound>> ReadBindings(const std::string& name, uid_t owner) const;
  Status WriteBindings(const std::string& name, uid_t owner, const std::vector<Bound>& bound) const;
  // Stops the egress relay and port forwards and drops the agent connection:
  // what the daemon holds of a guest that is going away or went away.
  void DetachGuest(const std::string& name);

  virt::Hypervisor& hv_;
  store::Layout layout_;
  ImageStore& images_;
  bool share_guard_ = true;
  virt::Accel accel_;
  HostLimits limits_;
  std::string default_image_;
  std::string virtiofsd_binary_;
  AgentPool agents_;
  Templates* templates_ = nullptr;
  GuestNetwork net_;
  store::SecretStore secrets_;
  Mutex locks_mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_ WS_GUARDED_BY(locks_mu_);
  Mutex tripwires_mu_;
  std::map<std::string, std::shared_ptr<tripwire::Tripwire>> tripwires_
      WS_GUARDED_BY(tripwires_mu_);
};

// How long a boot may take before create/start give up.
inline constexpr std::chrono::seconds kBootTimeout{120};
// How long stop waits for a clean power-off before forcing it.
inline constexpr std::chrono::seconds kStopGrace{10};

}  // namespace ws::controller
