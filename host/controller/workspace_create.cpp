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
#include "host/controller/workspaces.h"
#include "host/controller/workspaces_internal.h"
#include "host/github/github_http.h"
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

namespace {

// Guest kernel parameters for speed. Debian's kernel zeroes every page and
// slab object it allocates (CONFIG_INIT_ON_ALLOC_DEFAULT_ON); under TCG that
// emulated zeroing was ~10 % of the guest's time moving exec output (pipe,
// socket and port buffers). It hardens a kernel against its own
// uninitialized-memory bugs; the guest is disposable and its root is
// treated as hostile anyway, and memory handed to processes is still zeroed.
// bench/run boots its baselines with the same parameters.
constexpr const char* kGuestKernelTuning = "init_on_alloc=0";

}  // namespace

namespace internal {

std::string KernelCmdline(const std::string& boot_words) {
  return std::string("console=ttyS0 panic=-1 quiet ") + kGuestKernelTuning + " " + boot_words;
}

std::string NewUuid() {
  unsigned char b[16] = {};
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!read(fd, b, sizeof b);
    close(fd);
  }
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // variant 1
  char s[37];
  std::snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                b[13], b[14], b[15]);
  return s;
}

}  // namespace internal

Status Workspaces::PrepareShares(const std::string& name, const virt::WorkspaceMeta& meta) {
  shares::ShareOwner root_ids;
  for (const auto& sh : meta.shares) {
    // With the owner's rights and no symlink on the way, it must still be the
    // directory create recorded: a part of the path swapped since (for a
    // symlink to a folder the owner cannot read) is refused here, and again
    // by the wrapper that binds it.
    const int need = R_OK | X_OK | (sh.read_only ? 0 : W_OK);
    // A member's shares are theirs (sh.owner_* are the member's ids); root's
    // probe keeps root's ids, whoever owns the folder.
    auto id = shares::IdentifyDirectoryAs(meta.owner_uid, meta.owner_uid == 0 ? 0 : sh.owner_gid,
                                          sh.host_path, need);
    if (!id.ok() && id.status().code() == Code::kNotFound) {
      return {Code::kFailedPrecondition, "the shared folder " + sh.host_path + " of '" + name +
                                             "' is gone; recreate it, or destroy the workspace"};
    }
    if (!id.ok()) {
      return {Code::kFailedPrecondition, "the shared folder " + sh.host_path + " of '" + name +
                                             "' cannot be shared now: " + id.status().message() +
                                             "; put it back, or destroy the workspace"};
    }
    if (sh.ino != 0 && (id->dev != sh.dev || id->ino != sh.ino)) {
      return {Code::kFailedPrecondition,
              "the shared folder " + sh.host_path + " of '" + name +
                  "' is not the folder it was at create (a part of its path was "
                  "replaced or moved); put it back, or destroy the workspace"};
    }
    if (!sh.read_only && root_ids.uid == 0) {
      auto ids = shares::GuestRootIds();
      if (!ids.ok()) return ids.status();
      root_ids = ids.value();
    }
    std::string dir = ShareSpecDir(name, sh.tag);
    std::error_code ec;
    fs::create_directories(dir + "/" + shares::kViewDir, ec);
    if (ec) return {Code::kInternal, "creating " + dir + ": " + ec.message()};
    shares::ShareConfig conf;
    conf.host_path = sh.host_path;
    conf.read_only = sh.read_only;
    conf.owner_uid = sh.owner_uid;
    conf.owner_gid = sh.owner_gid;
    conf.root_uid = root_ids.uid;
    conf.root_gid = root_ids.gid;
    conf.shown = sh.shown;
    conf.dev = sh.dev;
    conf.ino = sh.ino;
    conf.owner_rights = meta.owner_uid != 0;
    conf.writable = sh.writable;
    conf.protect = sh.protect;
    conf.workspace = name;
    conf.guard = share_guard_;
    conf.audit_log = layout_.WorkspaceDir(name) + "/audit.log";
    Status written =
        WritePrivateFile(dir + "/" + shares::kConfigFile, shares::RenderShareConfig(conf));
    if (!written.ok()) return written;
  }
  return Status::Ok();
}

Result<WorkspaceView> Workspaces::Create(const Caller& c, const CreateParams& p) {
  Status valid = ValidateName(p.name);
  if (!valid.ok()) return valid;
  auto lock = LockFor(p.name);
  std::lock_guard guard(*lock);

  auto existing = hv_.Get(p.name);
  if (existing.ok()) {
    // Names are one namespace on the host; whose it is stays unsaid.
    auto other = virt::ParseMetadata(existing->metadata_xml);
    if (!other.ok() || !c.may_access(other->owner_uid)) {
      return Status(Code::kAlreadyExists,
                    "the name '" + p.name + "' is taken on this host; choose another name");
    }
    return Status(Code::kAlreadyExists, "a workspace named '" + p.name +
                                            "' already exists; choose another name or remove it "
                                            "with: workspace destroy " +
                                            p.name);
  }
  auto image = images_.Resolve(p.image.empty() ? default_image_ : p.image);
  if (!image.ok()) return image.status();
  if (!MayUseImage(c, image.value())) {
    return Status(Code::kNotFound, "image '" + image->name +
                                       "' is not installed; see them with: workspace image list");
  }

  // Secrets to bind: the caller's own, known before anything is made.
  std::vector<Bound> bound;
  if (p.secrets.size() > 16) {
    return Status(Code::kInvalidArgument, "a workspace takes at most 16 secrets");
  }
  for (const auto& name : p.secrets) {
    if (p.net != NetMode::kAllowlist) {
      return Status(Code::kInvalidArgument,
                    "--secret needs --net allowlist: secrets are injected by the egress");
    }
    auto secret = secrets_.Get(c.uid, name);
    if (!secret.ok()) return secret.status();
    if (std::none_of(bound.begin(), bound.end(),
                     [&](const Bound& b) { return b.secret == name; })) {
      bound.push_back({name, store::NewPlaceholder()});
    }
  }

  // An image's defaults shrink to fit a small host; explicit values are checked.
  const uint32_t cpus = p.cpus ? p.cpus : std::min(image->default_cpus, limits_.cpus);
  const uint32_t memory = p.memory_mib ? p.memory_mib
                                       : static_cast<uint32_t>(std::min<uint64_t>(
                                             image->default_memory_mib, limits_.memory_mib / 2));
  uint32_t disk_gib = 0;
  if (!image->base.empty()) {
    disk_gib = p.disk_gib ? p.disk_gib : image->default_disk_gib;
    const uint64_t need = store::Qcow2VirtualSize(image->base);
    const uint64_t need_gib = (need + (1ull << 30) - 1) >> 30;
    if (disk_gib > 4096 || (static_cast<uint64_t>(disk_gib) << 30) < need) {
      return Status(Code::kInvalidArgument, "--disk " + std::to_string(disk_gib) + ": image '" +
                                                image->name + "' needs " +
                                                std::to_string(need_gib) + "..4096 GiB");
    }
  } else if (p.disk_gib) {
    return Status(Code::kInvalidArgument, "image '" + image->name +
                                              "' has no disk (it runs from memory); "
                                              "--disk is for disk images such as debian");
  }
  if (cpus > limits_.cpus) {
    return Status(Code::kInvalidArgument, "--cpus " + std::to_string(cpus) +
                                              " is more than this host's " +
                                              std::to_string(limits_.cpus) + " CPUs");
  }
  if (memory < 128 || memory > limits_.memory_mib) {
    return Status(Code::kInvalidArgument,
                  "--memory " + std::to_string(memory) + " MiB is outside 128.." +
                      std::to_string(limits_.memory_mib) + " MiB (this host's memory)");
  }

  auto cpu_model = virt::ChooseCpuModel(p.cpu_model, accel_);
  if (!cpu_model.ok()) return cpu_model.status();
  const MemberPolicy policy = LoadMemberPolicy(DaemonConfigPath());
  for (const auto& port : p.publish) {
    if (Status s = CheckHostPort(policy, c.uid, port.host); !s.ok()) return s;
  }
  for (const auto& e : p.allow) {
    if (Status s = CheckAllowEntry(policy, c.uid, e); !s.ok()) return s;
  }
  if (Status s = github::CheckGithubRuleSpecs(p.github_push, p.github_api_writes); !s.ok()) {
    return s;
  }
  if ((!p.github_push.empty() || !p.github_api_writes.empty()) &&
      std::none_of(p.allow.begin(), p.allow.end(),
                   [](const net::AllowEntry& e) { return e.source == "github"; })) {
    return Status(Code::kInvalidArgument,
                  "GitHub push and api-write rules need the GitHub rule set allowed (github)");
  }
  if (Status s = shares::CheckShareSet(p.shares); !s.ok()) return s;
  std::vector<virt::ShareMeta> share_metas;
  for (size_t i = 0; i < p.shares.size(); ++i) {
    shares::ShareSpec spec = p.shares[i];
    auto owner = shares::CheckShareForCaller(spec, c.uid, c.gid, layout_.state_dir(),
                                             p.allow_dangerous_shares);
    if (!owner.ok()) return owner.status();
    share_metas.push_back({"ws" + std::to_string(i), spec.host_path, spec.guest_path,
                           spec.read_only, owner->uid, owner->gid, spec.shown, owner->dev,
                           owner->ino, spec.writable, spec.protect});
  }

  const std::string uuid = NewUuid();
  virt::WorkspaceMeta meta;
  meta.shares = share_metas;
  meta.net = p.net;
  meta.allow = p.allow;
  meta.github_push = p.github_push;
  meta.github_api_writes = p.github_api_writes;
  meta.owner_uid = c.uid;
  meta.image = image->name;
  meta.created_at = NowRfc3339();
  meta.accel = virt::AccelName(accel_);
  meta.cpus = cpus;
  meta.memory_mib = memory;
  meta.cpu_model = cpu_model.value();
  meta.agent_socket = layout_.AgentSocket(uuid);
  meta.console_log = layout_.ConsoleLog(p.name);
  if (disk_gib) {
    meta.disk = layout_.WorkspaceDir(p.name) + "/disk.qcow2";
    meta.base = image->base;
    meta.disk_gib = disk_gib;
  }

  virt::VmSpec spec;
  spec.name = p.name;
  spec.uuid = uuid;
  spec.accel = accel_;
  spec.cpus = cpus;
  spec.memory_mib = memory;
  spec.cpu_model = meta.cpu_model;
  spec.kernel = image->kernel;
  spec.initrd = image->initrd;
  boot::BootParams boot;
  boot.name = p.name;
  boot.net = meta.net;
  spec.user_nic = meta.net == NetMode::kOpen;
  spec.virtiofsd_binary = virtiofsd_binary_;
  if (!meta.disk.empty()) {
    spec.disk = meta.disk;
    boot.root = "/dev/vda";
  }
  boot.git_name = p.git_name;
  boot.git_email = p.git_email;
  for (const auto& sh : meta.shares) {
    boot.shares.push_back({sh.tag, sh.guest_path, sh.read_only});
    spec.filesystems.push_back({sh.tag, ShareSpecDir(p.name, sh.tag)});
  }
  spec.cmdline = KernelCmdline(boot::Encode(boot));
  spec.genid = NewUuid();
  spec.agent_socket = meta.agent_socket;
  spec.bulk_socket = store::BulkSocketPath(meta.agent_socket);
  spec.console_log = meta.console_log;
  spec.metadata_xml = virt::RenderMetadata(meta);

  std::error_code ec;
  fs::create_directories(layout_.WorkspaceDir(p.name), ec);
  if (ec)
    return Status(Code::kInternal,
                  "creating " + layout_.WorkspaceDir(p.name) + ": " + ec.message());
  // Its disk, console and share configs are root's (QEMU runs as
  // libvirt-qemu and needs to pass through: 0711, not listable; files 0600).
  fs::permissions(layout_.WorkspaceDir(p.name),
                  fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
  bool defined = false;
  Cleanup rollback([&] {
    if (defined) {
      hv_.ForceOff(p.name);
      hv_.Undefine(p.name);
    }
    DetachGuest(p.name);
    RemoveFiles(p.name, meta);
  });

  Status s = PrepareShares(p.name, meta);
  if (!s.ok()) return s;
  if (!bound.empty()) {
    s = WriteBindings(p.name, c.uid, bound);
    if (!s.ok()) return s;
  }
  if (p.decoys) {
    s = WriteDecoys(p.name);
    if (!s.ok()) return s;
  }
  s = WritePrivateFile(meta.console_log, "");  // QEMU appends to it
  if (!s.ok()) return s;
  // A console kept by the cap of a workspace of the same name before is
  // not this one's (the cap may have renamed it in while destroy removed).
  unlink((meta.console_log + ".1").c_str());
  if (!meta.disk.empty()) {
    s = store::CreateOverlay(meta.base, meta.disk, meta.disk_gib);
    if (!s.ok()) return s;
  }
  for (auto port : p.publish) {
    s = net_.OpenPort(p.name, &port, LowPortOk(c, policy, port.guest));
    if (!s.ok()) return s;
    meta.ports.push_back(port);
  }
  spec.metadata_xml = virt::RenderMetadata(meta);  // with the ports chosen
  s = hv_.Define(spec);
  if (!s.ok()) return s;
  defined = true;
  s = MarkUnfetchedUnknown(p.name, meta);
  if (!s.ok()) return s;
  s = KeepBootWords(p.name, boot::Encode(boot));
  if (!s.ok()) return s;
  auto booted = BootFresh(p.name, uuid, meta, p.cold_boot);
  if (!booted.ok()) return booted.status();
  net_.StartEgress(p.name, meta, PrivateOk(meta));
  s = ApplySecrets(p.name, meta, true);
  if (!s.ok()) return s;
  rollback.Dismiss();
  return WorkspaceView{p.name, uuid, virt::VmState::kRunning, meta, booted.value()};
}

}  // namespace ws::controller
