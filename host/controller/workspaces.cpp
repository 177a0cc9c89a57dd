#include "host/controller/workspaces.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <algorithm>
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
#include "host/shares/share_check.h"
#include "host/shares/share_config.h"
#include "host/virt/cpu_model.h"
#include "host/virt/vm_spec.h"

namespace ws::controller {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Guest kernel parameters for speed. Debian's kernel zeroes every page and
// slab object it allocates (CONFIG_INIT_ON_ALLOC_DEFAULT_ON); under TCG that
// emulated zeroing was ~10 % of the guest's time moving exec output (pipe,
// socket and port buffers). It hardens a kernel against its own
// uninitialized-memory bugs; the guest is disposable and its root is
// treated as hostile anyway, and memory handed to processes is still zeroed.
// bench/run boots its baselines with the same parameters.
constexpr const char* kGuestKernelTuning = "init_on_alloc=0";

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
  std::snprintf(s, sizeof s,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return s;
}

// The guest-visible size of a qcow2 image (big-endian at offset 24).
uint64_t Qcow2VirtualSize(const std::string& path) {
  unsigned char h[32] = {};
  std::ifstream f(path, std::ios::binary);
  if (!f.read(reinterpret_cast<char*>(h), sizeof h) || h[0] != 'Q' || h[1] != 'F' || h[2] != 'I') return 0;
  uint64_t size = 0;
  for (int i = 24; i < 32; ++i) size = size << 8 | h[i];
  return size;
}

// A thin qcow2 overlay on `base`, `gib` GiB large, at `path`.
Status CreateOverlay(const std::string& base, const std::string& path, uint32_t gib) {
  auto run = RunCommand({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, path,
                         std::to_string(gib) + "G"});
  if (!run.ok()) {
    std::error_code ec;
    fs::remove(path, ec);
    return {Code::kInternal, "creating the workspace's disk: " + run.status().message()};
  }
  std::error_code ec;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
  return Status::Ok();
}

// May an unnumbered publish take the guest's own port number on the host?
bool LowPortOk(const Caller& c, const MemberPolicy& p, uint16_t guest) {
  return CheckHostPort(p, c.uid, guest).ok();
}

// The workspace's own files: 0600, root's, in its 0711 dir.
Status WritePrivateFile(const std::string& path, const std::string& text) {
  unique_fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd || fchmod(fd.get(), 0600) != 0 || !WriteAll(fd.get(), text.data(), text.size())) {
    return ErrnoStatus("writing " + path, errno);
  }
  return Status::Ok();
}

Status NotFound(const std::string& name) {
  return {Code::kNotFound,
          "no workspace named '" + name + "'; see the list with: workspace list"};
}

}  // namespace

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
      agents_(std::move(dial_agent)) {}

std::string Workspaces::ShareSpecDir(const std::string& name, const std::string& tag) const {
  return layout_.WorkspaceDir(name) + "/shares/" + tag;
}

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
    auto id = shares::IdentifyDirectoryAs(meta.owner_uid, meta.owner_uid == 0 ? 0 : sh.owner_gid, sh.host_path, need);
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
      return {Code::kFailedPrecondition, "the shared folder " + sh.host_path + " of '" + name +
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
    Status written = WritePrivateFile(dir + "/" + shares::kConfigFile, shares::RenderShareConfig(conf));
    if (!written.ok()) return written;
  }
  return Status::Ok();
}

std::shared_ptr<std::mutex> Workspaces::LockFor(const std::string& name) {
  std::lock_guard lock(locks_mu_);
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
  if (!meta.ok()) return Status(Code::kInternal, "workspace '" + name + "': " + meta.status().message());
  // Another user's workspace is reported as absent, not as forbidden.
  if (!c.may_access(meta->owner_uid)) return NotFound(name);
  return WorkspaceView{info->name, info->uuid, info->state, std::move(meta.value())};
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
      return Status(Code::kAlreadyExists, "the name '" + p.name + "' is taken on this host; choose another name");
    }
    return Status(Code::kAlreadyExists, "a workspace named '" + p.name +
                                            "' already exists; choose another name or remove it "
                                            "with: workspace destroy " + p.name);
  }
  auto image = images_.Resolve(p.image.empty() ? default_image_ : p.image);
  if (!image.ok()) return image.status();
  if (!MayUseImage(c, image.value())) {
    return Status(Code::kNotFound, "image '" + image->name + "' is not installed; see them with: workspace image list");
  }

  // An image's defaults shrink to fit a small host; explicit values are checked.
  const uint32_t cpus = p.cpus ? p.cpus : std::min(image->default_cpus, limits_.cpus);
  const uint32_t memory = p.memory_mib ? p.memory_mib
                                       : static_cast<uint32_t>(std::min<uint64_t>(
                                             image->default_memory_mib, limits_.memory_mib / 2));
  uint32_t disk_gib = 0;
  if (!image->base.empty()) {
    disk_gib = p.disk_gib ? p.disk_gib : image->default_disk_gib;
    const uint64_t need = Qcow2VirtualSize(image->base);
    const uint64_t need_gib = (need + (1ull << 30) - 1) >> 30;
    if (disk_gib > 4096 || (static_cast<uint64_t>(disk_gib) << 30) < need) {
      return Status(Code::kInvalidArgument, "--disk " + std::to_string(disk_gib) + ": image '" + image->name +
                                                "' needs " + std::to_string(need_gib) + "..4096 GiB");
    }
  } else if (p.disk_gib) {
    return Status(Code::kInvalidArgument, "image '" + image->name + "' has no disk (it runs from memory); "
                                          "--disk is for disk images such as debian");
  }
  if (cpus > limits_.cpus) {
    return Status(Code::kInvalidArgument, "--cpus " + std::to_string(cpus) + " is more than this host's " +
                                              std::to_string(limits_.cpus) + " CPUs");
  }
  if (memory < 128 || memory > limits_.memory_mib) {
    return Status(Code::kInvalidArgument, "--memory " + std::to_string(memory) +
                                              " MiB is outside 128.." + std::to_string(limits_.memory_mib) +
                                              " MiB (this host's memory)");
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
  if (Status s = shares::CheckShareSet(p.shares); !s.ok()) return s;
  std::vector<virt::ShareMeta> share_metas;
  for (size_t i = 0; i < p.shares.size(); ++i) {
    shares::ShareSpec spec = p.shares[i];
    auto owner = shares::CheckShareForCaller(spec, c.uid, c.gid, layout_.state_dir(), p.allow_dangerous_shares);
    if (!owner.ok()) return owner.status();
    share_metas.push_back({"ws" + std::to_string(i), spec.host_path, spec.guest_path, spec.read_only,
                           owner->uid, owner->gid, spec.shown, owner->dev, owner->ino, spec.writable,
                           spec.protect});
  }

  const std::string uuid = NewUuid();
  virt::WorkspaceMeta meta;
  meta.shares = share_metas;
  if (p.net != "allowlist" && p.net != "none" && p.net != "open") {
    return Status(Code::kInvalidArgument, "--net " + p.net + ": use allowlist, none or open");
  }
  meta.net = p.net;
  meta.allow = p.allow;
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
  boot.net = *ParseNetMode(meta.net);
  spec.user_nic = meta.net == "open";
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
  spec.cmdline = std::string("console=ttyS0 panic=-1 quiet ") + kGuestKernelTuning + " " + boot::Encode(boot);
  spec.agent_socket = meta.agent_socket;
  spec.bulk_socket = guest::BulkSocketPath(meta.agent_socket);
  spec.console_log = meta.console_log;
  spec.metadata_xml = virt::RenderMetadata(meta);

  std::error_code ec;
  fs::create_directories(layout_.WorkspaceDir(p.name), ec);
  if (ec) return Status(Code::kInternal, "creating " + layout_.WorkspaceDir(p.name) + ": " + ec.message());
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
    agents_.Drop(p.name);
    ClosePorts(p.name);
    RemoveFiles(p.name, meta.agent_socket);
  });

  Status s = PrepareShares(p.name, meta);
  if (!s.ok()) return s;
  s = WritePrivateFile(meta.console_log, "");  // QEMU appends to it
  if (!s.ok()) return s;
  // A console kept by the cap of a workspace of the same name before is
  // not this one's (the cap may have renamed it in while destroy removed).
  unlink((meta.console_log + ".1").c_str());
  if (!meta.disk.empty()) {
    s = CreateOverlay(meta.base, meta.disk, meta.disk_gib);
    if (!s.ok()) return s;
  }
  for (auto port : p.publish) {
    s = OpenPort(p.name, meta.agent_socket, &port, LowPortOk(c, policy, port.guest));
    if (!s.ok()) return s;
    meta.ports.push_back(port);
  }
  spec.metadata_xml = virt::RenderMetadata(meta);  // with the ports chosen
  s = hv_.Define(virt::RenderDomainXml(spec));
  if (!s.ok()) return s;
  defined = true;
  s = MarkUnfetchedUnknown(p.name, meta);
  if (!s.ok()) return s;
  s = hv_.Start(p.name);
  if (!s.ok()) return s;
  s = WaitForAgent(p.name, meta.agent_socket, kBootTimeout, meta.console_log, 0);
  if (!s.ok()) return s;
  rollback.Dismiss();
  StartEgress(p.name, meta);
  return WorkspaceView{p.name, uuid, virt::VmState::kRunning, meta};
}

namespace {

// Why a workspace's guest cannot be reached, and what to do.
Status NotRunning(const std::string& name, virt::VmState state) {
  const bool transient = state == virt::VmState::kPaused || state == virt::VmState::kStopping;
  return {Code::kFailedPrecondition, "workspace '" + name + "' is " + virt::VmStateName(state) +
                                         (transient ? "; try again in a moment"
                                                    : "; start it with: workspace start " + name)};
}

// The console's "Kernel panic" line written from byte `from` on, cleaned
// for a one-line message; "" when there is none.
std::string PanicLine(const std::string& console_log, uintmax_t from) {
  std::ifstream f(console_log, std::ios::binary);
  std::error_code ec;
  if (fs::file_size(console_log, ec) < from) from = 0;  // cut by the console cap since
  if (!f || !f.seekg(static_cast<std::streamoff>(from))) return "";
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t at = text.find("Kernel panic");
  if (at == std::string::npos) return "";
  std::string line;
  for (size_t i = at; i < text.size() && text[i] != '\n' && line.size() < 160; ++i) {
    char c = text[i];
    if (c >= 0x20 && c < 0x7f) line += c;
  }
  return line;
}

}  // namespace

Status Workspaces::WaitForAgent(const std::string& name, const std::string& socket, std::chrono::seconds timeout,
                                const std::string& console_log, uintmax_t console_from) {
  const auto deadline = Clock::now() + timeout;
  Status last;
  while (Clock::now() < deadline) {
    auto info = hv_.Get(name);
    if (info.ok() && info->state != virt::VmState::kRunning) {
      return {Code::kInternal, "workspace '" + name + "' stopped while booting (state " +
                                   virt::VmStateName(info->state) +
                                   "); see its console with: workspace logs " + name};
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // One attempt per round, so a VM that died while booting is noticed;
    // through the pool, so an exec meanwhile waits for this connection
    // instead of taking QEMU's one client slot.
    auto agent = agents_.Reconnect(name, socket, std::min<std::chrono::milliseconds>(left, 5s));
    if (agent.ok()) return Status::Ok();
    last = agent.status();
    if (last.code() == Code::kFailedPrecondition) return last;  // version mismatch: final
    if (std::string panic = PanicLine(console_log, console_from); !panic.empty()) {
      hv_.ForceOff(name);
      return {Code::kInternal, "workspace '" + name + "' did not boot: the guest kernel panicked (" + panic +
                                   "); its image may be damaged: run ./scripts/setup, or see the console "
                                   "with: workspace logs " + name};
    }
    std::this_thread::sleep_for(50ms);  // a round that failed at once must not spin
  }
  return {Code::kDeadlineExceeded, "the guest agent of '" + name + "' did not answer within " +
                                       std::to_string(timeout.count()) + " s (" + last.message() +
                                       "); see the console with: workspace logs " + name};
}

Result<WorkspaceView> Workspaces::Start(const Caller& c, const std::string& name) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  return StartLocked(std::move(ws.value()));
}

std::string Workspaces::UnfetchedRecord(const std::string& name) const {
  return layout_.WorkspaceDir(name) + "/unfetched";
}

Status Workspaces::MarkUnfetchedUnknown(const std::string& name, const virt::WorkspaceMeta& meta) {
  std::error_code ec;
  if (GuestGitPaths(meta).empty()) {
    fs::remove(UnfetchedRecord(name), ec);
    return Status::Ok();
  }
  // Not known until stop asks the guest (it may stop any other way).
  Unfetched unknown;
  unknown.unknown = true;
  Status s = Record(UnfetchedRecord(name), unknown);
  if (!s.ok()) return Status(s.code(), "cannot record for '" + name + "' that its commits are not known yet: " + s.message());
  return Status::Ok();
}

Result<WorkspaceView> Workspaces::StartLocked(WorkspaceView ws) {
  const std::string& name = ws.name;
  if (ws.state == virt::VmState::kRunning) return ws;
  if (ws.state == virt::VmState::kPaused || ws.state == virt::VmState::kStopping) {
    return Status(Code::kFailedPrecondition, "workspace '" + name + "' is " +
                                                 virt::VmStateName(ws.state) + "; try again or stop it first");
  }
  // What served the VM before it stopped on its own (crashed, powered off
  // from inside) goes first: it must not take the new VM's agent socket.
  DetachGuest(name);
  Status s = PrepareShares(name, ws.meta);
  if (!s.ok()) return s;
  std::error_code ec;
  if (!ws.meta.disk.empty() && !fs::exists(ws.meta.disk, ec)) {
    return Status(Code::kFailedPrecondition, "the disk of '" + name + "' (" + ws.meta.disk +
                                                 ") is gone; make a fresh one with: workspace reset " + name);
  }
  // A newer build of the image (./scripts/setup) is installed first, so the
  // agent that boots matches this daemon. When the image cannot be resolved
  // the VM boots with the files it was defined with, and libvirt names
  // what is missing.
  (void)images_.Resolve(ws.meta.image);
  const uintmax_t console_from = fs::file_size(ws.meta.console_log, ec);
  const Unfetched before = ReadRecord(UnfetchedRecord(name));
  if (Status r = MarkUnfetchedUnknown(name, ws.meta); !r.ok()) return r;
  s = hv_.Start(name);
  if (!s.ok()) {
    (void)Record(UnfetchedRecord(name), before);  // it never ran: what was known still holds
    return s;
  }
  s = WaitForAgent(name, ws.meta.agent_socket, kBootTimeout, ws.meta.console_log, ec ? 0 : console_from);
  if (!s.ok()) return s;
  StartEgress(name, ws.meta);
  ReopenPorts(name, ws.meta);
  ws.state = virt::VmState::kRunning;
  return ws;
}

Result<bool> Workspaces::Stop(const Caller& c, const std::string& name) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  return StopLocked(ws.value());
}

Result<bool> Workspaces::StopLocked(const WorkspaceView& ws) {
  const std::string& name = ws.name;
  if (ws.state == virt::VmState::kStopped || ws.state == virt::VmState::kCrashed) return false;

  StopEgress(name);
  ClosePorts(name);
  auto agent = agents_.Get(name, ws.meta.agent_socket, 2s);
  if (agent.ok()) {
    // What reset and destroy check while it is off.
    if (auto git = GuestGitPaths(ws.meta); !git.empty()) {
      auto u = AskGuest(*agent.value(), git);
      if (u.ok()) (void)Record(UnfetchedRecord(name), u.value());
    }
    agent.value()->Shutdown(2s);
  }
  agents_.Drop(name);
  const auto deadline = Clock::now() + kStopGrace;
  while (Clock::now() < deadline) {
    auto info = hv_.Get(name);
    if (info.ok() && info->state != virt::VmState::kRunning &&
        info->state != virt::VmState::kStopping) {
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
  Status s = hv_.ForceOff(name);
  if (!s.ok()) return s;
  return true;
}

Status Workspaces::Destroy(const Caller& c, const std::string& name, bool force) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  const bool off = ws->state == virt::VmState::kStopped || ws->state == virt::VmState::kCrashed;
  if (!off && !force) {
    return {Code::kFailedPrecondition, "workspace '" + name + "' is " + virt::VmStateName(ws->state) +
                                           "; stop it first (workspace stop " + name +
                                           ") or use: workspace destroy --force " + name};
  }
  if (!force) {
    if (auto u = ReadRecord(UnfetchedRecord(name)); u.unknown || u.count > 0) return RefuseLosing(name, "destroy", u);
  }
  DetachGuest(name);
  Status s = hv_.ForceOff(name);
  if (!s.ok()) return s;
  s = hv_.Undefine(name);
  if (!s.ok()) return s;
  RemoveFiles(name, ws->meta.agent_socket);
  if (!ws->meta.base.empty()) CollectUnusedBases();
  return Status::Ok();
}

Result<ResetResult> Workspaces::Reset(const Caller& c, const std::string& name, bool force) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  if (ws->state == virt::VmState::kPaused || ws->state == virt::VmState::kStopping) {
    return NotRunning(name, ws->state);
  }
  if (!force) {
    Unfetched u;
    if (ws->state != virt::VmState::kRunning) {
      u = ReadRecord(UnfetchedRecord(name));
    } else if (auto git = GuestGitPaths(ws->meta); !git.empty()) {
      auto agent = agents_.Get(name, ws->meta.agent_socket, 5s);
      auto asked = agent.ok() ? AskGuest(*agent.value(), git) : Result<Unfetched>(agent.status());
      if (!asked.ok()) {
        return Status(Code::kFailedPrecondition,
                      "cannot ask '" + name + "' for commits the host has not fetched (" + asked.status().message() +
                          "); workspace reset --force " + name + " throws away whatever its disk holds");
      }
      u = asked.value();
    }
    if (u.unknown || u.count > 0) return RefuseLosing(name, "reset", u);
  }
  std::error_code ec;
  if (!ws->meta.disk.empty() && !fs::exists(ws->meta.base, ec)) {
    return Status(Code::kFailedPrecondition, "the base disk of '" + name + "' (" + ws->meta.base +
                                                 ") is gone; destroy the workspace and create it again");
  }
  // The fresh disk is made first, next to the old one, which is replaced
  // only once it exists: a failed reset loses nothing.
  const std::string fresh = ws->meta.disk + ".new";
  if (!ws->meta.disk.empty()) {
    Status s = CreateOverlay(ws->meta.base, fresh, ws->meta.disk_gib);
    if (!s.ok()) return s;
  }
  // Everything the guest holds is about to be thrown away: no clean
  // shutdown to wait for (shares are served by the host and lose nothing).
  DetachGuest(name);
  if (ws->state != virt::VmState::kStopped && ws->state != virt::VmState::kCrashed) {
    Status s = hv_.ForceOff(name);
    if (!s.ok()) return s;
  }
  ws->state = virt::VmState::kStopped;
  ResetResult r;
  if (!ws->meta.disk.empty()) {
    r.discarded_bytes = AllocatedBytes(ws->meta.disk);
    if (rename(fresh.c_str(), ws->meta.disk.c_str()) != 0) return ErrnoStatus("installing " + ws->meta.disk, errno);
  }
  auto started = StartLocked(std::move(ws.value()));
  if (!started.ok()) return started.status();
  r.workspace = std::move(started.value());
  return r;
}

void Workspaces::CollectUnusedBases() {
  std::set<std::string> used;
  auto vms = hv_.List();
  if (!vms.ok()) return;  // which bases are in use is unknown: keep them all
  for (const auto& vm : vms.value()) {
    auto meta = virt::ParseMetadata(vm.metadata_xml);
    if (!meta.ok()) return;
    if (!meta->base.empty()) used.insert(meta->base);
  }
  images_.CollectBases(used);
}

bool MayUseImage(const Caller& c, const Image& img) {
  return img.from.empty() || img.owner_uid == 0 || c.may_access(img.owner_uid);
}

std::vector<ImageView> Workspaces::Images(const Caller& c) {
  std::vector<ImageView> out;
  auto vms = hv_.List();
  for (auto& img : images_.List()) {
    if (!MayUseImage(c, img)) continue;
    ImageView v{img, {}};
    if (vms.ok()) {
      for (const auto& vm : vms.value()) {
        auto meta = virt::ParseMetadata(vm.metadata_xml);
        if (meta.ok() && meta->image == img.name && c.may_access(meta->owner_uid)) v.used_by.push_back(vm.name);
      }
    }
    std::sort(v.used_by.begin(), v.used_by.end());
    out.push_back(std::move(v));
  }
  return out;
}

Status Workspaces::RemoveImage(const Caller& c, const std::string& name) {
  // What image.env records, even when the disk is gone: a broken image of
  // another user's is still theirs.
  auto img = images_.Recorded(name);
  if (!img.ok()) return img.status();
  if (!c.may_access(img->owner_uid)) {
    // A derived image is its builder's; root's and the scripts' are everyone's
    // to use and only root's to remove.
    if (img->owner_uid != 0) return {Code::kNotFound, "no image named '" + name + "'; see them with: workspace image list"};
    return {Code::kPermissionDenied, "image '" + name + "' was built by " + (img->from.empty() ? "setup" : "root") +
                                         "; only root may remove it"};
  }
  if (images_.Building(name)) {
    return {Code::kFailedPrecondition, "image '" + name + "' is being built; wait for the build to end, or "
                                       "cancel it with Ctrl-C"};
  }
  auto vms = hv_.List();
  if (!vms.ok()) return vms.status();
  std::string users;
  int others = 0;
  for (const auto& vm : vms.value()) {
    auto meta = virt::ParseMetadata(vm.metadata_xml);
    if (!meta.ok() || meta->image != name) continue;
    if (c.may_access(meta->owner_uid)) {
      users += (users.empty() ? "" : ", ") + vm.name;
    } else {
      ++others;  // other users' workspace names are not the caller's to see
    }
  }
  if (others) users += (users.empty() ? "" : " and ") + std::to_string(others) + " workspace(s) of other users";
  if (!users.empty()) {
    return {Code::kFailedPrecondition, "image '" + name + "' is used by " + users + "; destroy " +
                                           (users.find(',') == std::string::npos && others <= 1 ? "it" : "them") +
                                           " first"};
  }
  Status s = images_.Remove(name);
  if (!s.ok()) return s;
  CollectUnusedBases();
  return Status::Ok();
}

Status Workspaces::BuildImage(const std::string& name, const std::function<void(const std::string&)>& on_line) {
  Status s = images_.Build(name, on_line);
  if (s.ok()) CollectUnusedBases();
  return s;
}

void Workspaces::RemoveFiles(const std::string& name, const std::string& agent_socket) {
  std::error_code ec;
  fs::remove_all(layout_.WorkspaceDir(name), ec);
  fs::remove(agent_socket, ec);
  fs::remove(guest::BulkSocketPath(agent_socket), ec);
  // libvirt keeps its per-domain logs after undefine: QEMU's, and one per
  // share daemon it started (NAME-fsN-virtiofsd.log, N the device's index).
  const std::string logs = layout_.LibvirtDir() + "/log/qemu/";
  fs::remove(logs + name + ".log", ec);
  const std::string prefix = name + "-fs", suffix = "-virtiofsd.log";
  for (const auto& e : fs::directory_iterator(logs, ec)) {
    const std::string leaf = e.path().filename().string();
    if (leaf.size() <= prefix.size() + suffix.size() || leaf.compare(0, prefix.size(), prefix) != 0 ||
        leaf.compare(leaf.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string index = leaf.substr(prefix.size(), leaf.size() - prefix.size() - suffix.size());
    if (index.find_first_not_of("0123456789") == std::string::npos) fs::remove(e.path(), ec);
  }
}

Result<std::vector<WorkspaceView>> Workspaces::List(const Caller& c) {
  auto vms = hv_.List();
  if (!vms.ok()) return vms.status();
  std::vector<WorkspaceView> out;
  for (auto& vm : vms.value()) {
    auto meta = virt::ParseMetadata(vm.metadata_xml);
    if (!meta.ok() || !c.may_access(meta->owner_uid)) continue;
    out.push_back({vm.name, vm.uuid, vm.state, std::move(meta.value())});
  }
  return out;
}

void Workspaces::StartEgress(const std::string& name, const virt::WorkspaceMeta& meta) {
  if (meta.net != "allowlist") return;
  const std::string socket = meta.agent_socket;
  auto relay = std::make_unique<net::EgressRelay>(
      name, [this, name, socket] { return agents_.Get(name, socket, 10s); }, meta.allow,
      layout_.WorkspaceDir(name) + "/audit.log", registry_, meta.owner_uid,
      meta.owner_uid == 0 || LoadMemberPolicy(DaemonConfigPath()).allow_private_hosts);
  std::unique_ptr<net::EgressRelay> old;
  std::lock_guard lock(egress_mu_);
  old = std::exchange(egress_[name], std::move(relay));
}

void Workspaces::DetachGuest(const std::string& name) {
  StopEgress(name);
  ClosePorts(name);
  agents_.Drop(name);
}

void Workspaces::StopEgress(const std::string& name) {
  std::unique_ptr<net::EgressRelay> relay;
  {
    std::lock_guard lock(egress_mu_);
    auto it = egress_.find(name);
    if (it == egress_.end()) return;
    relay = std::move(it->second);
    egress_.erase(it);
  }
}

void Workspaces::ResumeAll() {
  auto vms = hv_.List();
  if (!vms.ok()) return;
  for (const auto& vm : vms.value()) {
    auto meta = virt::ParseMetadata(vm.metadata_xml);
    if (!meta.ok() || vm.state != virt::VmState::kRunning) continue;
    StartEgress(vm.name, meta.value());
    ReopenPorts(vm.name, meta.value());
  }
}

Result<std::vector<net::AllowEntry>> Workspaces::UpdateAllowlist(const Caller& c, const std::string& name,
                                                                 const std::vector<std::string>& add,
                                                                 const std::vector<std::string>& remove) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  if (ws->meta.net != "allowlist") {
    return Status(Code::kFailedPrecondition, "workspace '" + name + "' has --net " + ws->meta.net +
                                                 ": it has no allowlist");
  }
  auto& list = ws->meta.allow;
  for (const auto& spec : remove) {
    auto e = net::ParseAllowEntry(spec, "user");
    if (!e.ok()) return e.status();
    auto it = std::remove_if(list.begin(), list.end(), [&](const net::AllowEntry& x) {
      return x.host == e->host && x.port == e->port;
    });
    if (it == list.end()) return Status(Code::kNotFound, spec + " is not on the allowlist of '" + name + "'");
    list.erase(it, list.end());
  }
  const MemberPolicy policy = LoadMemberPolicy(DaemonConfigPath());
  for (const auto& spec : add) {
    auto e = net::ParseAllowEntry(spec, "user");
    if (!e.ok()) return e.status();
    if (Status s = CheckAllowEntry(policy, c.uid, e.value()); !s.ok()) return s;
    bool dup = false;
    for (auto& x : list) {
      if (x.host == e->host && x.port == e->port) {
        x.source = "user";  // named explicitly now
        dup = true;
      }
    }
    if (!dup) list.push_back(e.value());
  }
  Status s = hv_.SetMetadata(name, virt::RenderMetadataForUpdate(ws->meta));
  if (!s.ok()) return s;
  std::lock_guard elock(egress_mu_);
  auto it = egress_.find(name);
  if (it != egress_.end()) it->second->SetAllowlist(list, ws->meta.owner_uid == 0 || policy.allow_private_hosts);
  return list;
}

Status Workspaces::OpenPort(const std::string& name, const std::string& socket, virt::WorkspaceMeta::Port* p,
                            bool guest_number_ok) {
  auto agent = [this, name, socket] { return agents_.Get(name, socket, 10s); };
  // No host port given: the guest's own number when free (localhost:3000 is
  // the dev server on 3000) and the caller may have it, else any free port.
  auto fwd = net::PortForward::Open(p->host ? p->host : guest_number_ok ? p->guest : 0, p->guest, agent);
  if (!fwd.ok() && p->host == 0) fwd = net::PortForward::Open(0, p->guest, agent);
  if (!fwd.ok()) return fwd.status();
  p->host = fwd.value()->host_port();
  std::lock_guard lock(egress_mu_);
  ports_[name][p->host] = std::move(fwd.value());
  return Status::Ok();
}

void Workspaces::ReopenPorts(const std::string& name, const virt::WorkspaceMeta& meta) {
  std::vector<std::string> problems;
  for (auto port : meta.ports) {
    Status s = OpenPort(name, meta.agent_socket, &port);
    if (s.ok()) continue;
    problems.push_back(std::to_string(port.host) + " (guest " + std::to_string(port.guest) + "): " +
                       s.message());
    Log("workspace '" + name + "': published port " + problems.back());
  }
  std::lock_guard lock(egress_mu_);
  if (problems.empty()) {
    port_problems_.erase(name);
  } else {
    port_problems_[name] = std::move(problems);
  }
}

std::vector<std::string> Workspaces::PortProblems(const std::string& name) const {
  std::lock_guard lock(egress_mu_);
  auto it = port_problems_.find(name);
  return it == port_problems_.end() ? std::vector<std::string>{} : it->second;
}

void Workspaces::ClosePorts(const std::string& name) {
  std::map<uint16_t, std::unique_ptr<net::PortForward>> gone;
  std::lock_guard lock(egress_mu_);
  port_problems_.erase(name);
  auto it = ports_.find(name);
  if (it == ports_.end()) return;
  gone = std::move(it->second);
  ports_.erase(it);
}

Result<std::vector<virt::WorkspaceMeta::Port>> Workspaces::UpdatePorts(
    const Caller& c, const std::string& name, const std::vector<virt::WorkspaceMeta::Port>& add,
    const std::vector<uint16_t>& remove) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  auto& ports = ws->meta.ports;
  for (uint16_t hp : remove) {
    auto it = std::find_if(ports.begin(), ports.end(), [&](const auto& p) { return p.host == hp; });
    if (it == ports.end()) return Status(Code::kNotFound, "host port " + std::to_string(hp) + " is not published by '" + name + "'");
    ports.erase(it);
    std::lock_guard elock(egress_mu_);
    ports_[name].erase(hp);
    // A port that did not open again is no longer a problem once removed.
    auto& problems = port_problems_[name];
    const std::string prefix = std::to_string(hp) + " (";
    std::erase_if(problems, [&](const std::string& p) { return p.rfind(prefix, 0) == 0; });
    if (problems.empty()) port_problems_.erase(name);
  }
  const MemberPolicy policy = LoadMemberPolicy(DaemonConfigPath());
  for (auto p : add) {
    if (p.guest == 0) return Status(Code::kInvalidArgument, "guest port must be 1-65535");
    if (Status s = CheckHostPort(policy, c.uid, p.host); !s.ok()) return s;
    if (ws->state == virt::VmState::kRunning) {
      Status s = OpenPort(name, ws->meta.agent_socket, &p, LowPortOk(c, policy, p.guest));
      if (!s.ok()) return s;
    } else if (p.host == 0) {
      return Status(Code::kFailedPrecondition, "workspace '" + name + "' is stopped; give HOST_PORT:GUEST_PORT, "
                                               "or start it first");
    }
    ports.push_back(p);
  }
  Status s = hv_.SetMetadata(name, virt::RenderMetadataForUpdate(ws->meta));
  if (!s.ok()) return s;
  return ports;
}

Result<std::string> Workspaces::AuditLogPath(const Caller& c, const std::string& name) {
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  return layout_.WorkspaceDir(name) + "/audit.log";
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
  auto agent = agents_.Get(name, ws->meta.agent_socket, 10s);
  if (!agent.ok()) {
    // The VM may have died since (its QEMU killed, the guest powered off).
    auto info = hv_.Get(name);
    if (info.ok() && info->state != virt::VmState::kRunning) return NotRunning(name, info->state);
    return Status(agent.status().code(), "workspace '" + name + "': " + agent.status().message());
  }
  return agent;
}

}  // namespace ws::controller
