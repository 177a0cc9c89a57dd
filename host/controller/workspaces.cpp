#include "host/controller/workspaces.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host/common/boot_params.h"
#include "host/common/cleanup.h"
#include "host/common/log.h"
#include "host/common/names.h"
#include "host/common/subprocess.h"
#include "host/common/time_format.h"
#include "host/common/unique_fd.h"
#include "host/controller/member_policy.h"
#include "host/controller/unfetched_commits.h"
#include "host/controller/workspaces_internal.h"
#include "host/shares/share_check.h"
#include "host/shares/share_config.h"
#include "host/store/disks.h"
#include "host/virt/cpu_model.h"
#include "host/virt/vm_spec.h"

namespace ws::controller {

using namespace internal;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace internal {

Status NotFound(const std::string& name) {
  return {Code::kNotFound, "no workspace named '" + name + "'; see the list with: workspace list"};
}

Status NotRunning(const std::string& name, virt::VmState state) {
  const bool transient = state == virt::VmState::kPaused || state == virt::VmState::kStopping;
  return {Code::kFailedPrecondition,
          "workspace '" + name + "' is " + virt::VmStateName(state) +
              (transient ? "; try again in a moment" : "; start it with: workspace start " + name)};
}

bool PrivateOk(const virt::WorkspaceMeta& meta) {
  return meta.owner_uid == 0 || LoadMemberPolicy(DaemonConfigPath()).allow_private_hosts;
}

bool LowPortOk(const Caller& c, const MemberPolicy& p, uint16_t guest) {
  return CheckHostPort(p, c.uid, guest).ok();
}

Status WritePrivateFile(const std::string& path, const std::string& text) {
  unique_fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd || fchmod(fd.get(), 0600) != 0 || !WriteAll(fd.get(), text.data(), text.size())) {
    return ErrnoStatus("writing " + path, errno);
  }
  return Status::Ok();
}

}  // namespace internal

Workspaces::Workspaces(virt::Hypervisor& hv, store::Layout layout, ImageStore& images,
                       AgentPool::Dial dial_agent, virt::Accel accel, HostLimits limits,
                       std::string default_image, std::string virtiofsd_binary)
    : hv_(hv),
      layout_(std::move(layout)),
      images_(images),
      accel_(accel),
      limits_(limits),
      default_image_(std::move(default_image)),
      virtiofsd_binary_(std::move(virtiofsd_binary)),
      agents_(std::move(dial_agent)),
      net_(agents_,
           [this](const std::string& name) { return layout_.WorkspaceDir(name) + "/audit.log"; }),
      secrets_(layout_.state_dir() + "/secrets") {}

std::string Workspaces::ShareSpecDir(const std::string& name, const std::string& tag) const {
  return layout_.WorkspaceDir(name) + "/shares/" + tag;
}

std::shared_ptr<std::mutex> Workspaces::LockFor(const std::string& name) {
  MutexLock lock(locks_mu_);
  auto& m = locks_[name];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

Result<WorkspaceView> Workspaces::Find(const Caller& c, const std::string& name) {
  Status valid = ValidateName(name);
  if (!valid.ok()) return valid;
  auto info = hv_.Get(name);
  if (!info.ok()) return info.status().code() == Code::kNotFound ? NotFound(name) : info.status();
  if (info->metadata_xml.empty()) return NotFound(name);  // a VM that is not ours
  auto meta = virt::ParseMetadata(info->metadata_xml);
  if (!meta.ok())
    return Status(Code::kInternal, "workspace '" + name + "': " + meta.status().message());
  // Another user's workspace is reported as absent, not as forbidden.
  if (!c.may_access(meta->owner_uid)) return NotFound(name);
  return WorkspaceView{info->name, info->uuid, info->state, std::move(meta.value()), {}};
}

void Workspaces::RemoveFiles(const std::string& name, const virt::WorkspaceMeta& meta) {
  std::error_code ec;
  fs::remove_all(layout_.WorkspaceDir(name), ec);
  fs::remove(meta.agent_socket, ec);
  fs::remove(store::BulkSocketPath(meta.agent_socket), ec);
  // libvirt keeps its per-domain logs after undefine: QEMU's, and one per
  // share daemon it started, NAME-fsN-virtiofsd.log for share N. That is
  // also the name of QEMU's log of a workspace called NAME-fsN-virtiofsd:
  // one that exists keeps its log.
  const std::string logs = layout_.LibvirtDir() + "/log/qemu/";
  fs::remove(logs + name + ".log", ec);
  for (size_t i = 0; i < meta.shares.size(); ++i) {
    const std::string share_log = name + "-fs" + std::to_string(i) + "-virtiofsd";
    if (!hv_.Get(share_log).ok()) fs::remove(logs + share_log + ".log", ec);
  }
}

Result<std::vector<WorkspaceView>> Workspaces::List(const Caller& c) {
  auto vms = hv_.List();
  if (!vms.ok()) return vms.status();
  std::vector<WorkspaceView> out;
  for (auto& vm : vms.value()) {
    auto meta = virt::ParseMetadata(vm.metadata_xml);
    if (!meta.ok() || !c.may_access(meta->owner_uid)) continue;
    out.push_back({vm.name, vm.uuid, vm.state, std::move(meta.value()), {}});
  }
  return out;
}

void Workspaces::AttachGuest(const std::string& name, const virt::WorkspaceMeta& meta) {
  net_.Attach(name, meta, PrivateOk(meta));
  if (Status s = ApplySecrets(name, meta, true); !s.ok()) {
    Log("workspace '" + name + "': its secrets are not set up: " + s.message());
  }
}

void Workspaces::DetachGuest(const std::string& name) {
  net_.Detach(name);
  agents_.Drop(name);
  MutexLock lock(tripwires_mu_);
  tripwires_.erase(name);
}

void Workspaces::ResumeAll() {
  auto vms = hv_.List();
  if (!vms.ok()) return;
  for (const auto& vm : vms.value()) {
    auto meta = virt::ParseMetadata(vm.metadata_xml);
    if (!meta.ok() || vm.state != virt::VmState::kRunning) continue;
    AttachGuest(vm.name, meta.value());
  }
}

Result<WorkspaceView> Workspaces::Inspect(const Caller& c, const std::string& name) {
  return Find(c, name);
}

Result<std::shared_ptr<guest::GuestAgent>> Workspaces::Agent(const Caller& c,
                                                             const std::string& name) {
  Status valid = ValidateName(name);
  if (!valid.ok()) return valid;
  // A create, start, stop or reset of this workspace that is under way ends
  // first: an exec sent while the VM boots runs once its guest is up, and
  // one sent while it stops says it is stopped.
  { std::lock_guard settled(*LockFor(name)); }
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  if (ws->state != virt::VmState::kRunning) return NotRunning(name, ws->state);
  auto agent = agents_.Get(name, 10s);
  if (!agent.ok()) {
    // The VM may have died since (its QEMU killed, the guest powered off).
    auto info = hv_.Get(name);
    if (info.ok() && info->state != virt::VmState::kRunning) return NotRunning(name, info->state);
    return Status(agent.status().code(), "workspace '" + name + "': " + agent.status().message());
  }
  return agent;
}

}  // namespace ws::controller
