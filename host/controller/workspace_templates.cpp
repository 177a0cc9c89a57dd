// Fresh guests (create, reset): restored from a template, or booted cold
// (issue #24); and the identity every guest is handed after its boot.
#include <sys/random.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "host/common/atomic_file.h"
#include "host/common/boot_params.h"
#include "host/common/log.h"
#include "host/controller/workspaces.h"
#include "host/controller/workspaces_internal.h"
#include "host/store/disks.h"

namespace ws::controller {

using namespace internal;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// The workspace's boot words (boot_params.h), kept beside its disk: a
// restored guest's command line is its template's, so the host hands
// them over instead.
std::string BootWordsFile(const std::string& workspace_dir) {
  return workspace_dir + "/boot.params";
}

// /etc/machine-id: random, made once and kept with the workspace (0600):
// not its UUID, whose first digits name its socket in STATE/run.
Result<std::string> MachineId(const std::string& workspace_dir) {
  const std::string path = workspace_dir + "/machine-id";
  std::string id = ReadFileOrEmpty(path);
  if (id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos) return id;
  unsigned char b[16];
  if (getrandom(b, sizeof b, 0) != sizeof b)
    return Status(Code::kInternal, std::string("no random bytes: ") + strerror(errno));
  char hex[33];
  for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
  id.assign(hex, 32);
  if (Status s = WritePrivateFile(path, id); !s.ok()) return s;
  return id;
}

// Seconds since `t`, for the log ("0.734").
std::string Since(Clock::time_point t) {
  return std::to_string(std::chrono::duration<double>(Clock::now() - t).count()).substr(0, 5);
}

}  // namespace

Result<TemplateKey> Workspaces::TemplateKeyFor(const virt::WorkspaceMeta& meta) {
  auto image = images_.Resolve(meta.image);
  if (!image.ok()) return image.status();
  TemplateKey key;
  key.image = meta.image;
  key.kernel = image->kernel;
  key.initrd = image->initrd;
  key.base = meta.base;
  key.cpus = meta.cpus;
  key.memory_mib = meta.memory_mib;
  key.disk_gib = meta.disk_gib;
  key.cpu_model = meta.cpu_model;
  key.accel = meta.accel;
  key.net = NetModeName(meta.net);
  return key;
}

virt::VmSpec Workspaces::TemplateVm(const virt::WorkspaceMeta& meta) {
  virt::VmSpec spec;
  spec.accel = accel_;
  spec.cpus = meta.cpus;
  spec.memory_mib = meta.memory_mib;
  spec.cpu_model = meta.cpu_model;
  auto image = images_.Resolve(meta.image);
  if (image.ok()) {
    spec.kernel = image->kernel;
    spec.initrd = image->initrd;
  }
  // No name, no shares, no git identity: nothing of anyone's.
  boot::BootParams boot;
  boot.net = meta.net;
  boot.template_boot = true;
  if (!meta.base.empty()) boot.root = "/dev/vda";
  spec.cmdline = KernelCmdline(boot::Encode(boot));
  spec.virtiofsd_binary = virtiofsd_binary_;
  return spec;
}

Status Workspaces::IntroduceGuest(const std::string& name) {
  guest::GuestSettings settings;
  guest::GuestSettings::Identity id;
  auto machine_id = MachineId(layout_.WorkspaceDir(name));
  if (!machine_id.ok()) return machine_id.status();
  id.machine_id = machine_id.value();
  id.entropy.resize(64);
  if (getrandom(id.entropy.data(), id.entropy.size(), 0) != 64) {
    return Status(Code::kInternal,
                  std::string("no random bytes for the guest: ") + strerror(errno));
  }
  id.unix_time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  // The rest only when the words are known (a workspace made before them
  // booted cold, and its command line said it all).
  auto words = ReadFileOrEmpty(BootWordsFile(layout_.WorkspaceDir(name)));
  if (auto boot = boot::Decode(words); !words.empty() && boot.ok()) {
    id.hostname = boot->name;
    id.git_name = boot->git_name;
    id.git_email = boot->git_email;
    for (const auto& sh : boot->shares) id.shares.push_back({sh.tag, sh.guest_path, sh.read_only});
  }
  settings.identity = std::move(id);
  auto agent = agents_.Get(name, 10s);
  if (!agent.ok()) return agent.status();
  Status s = agent.value()->Configure(settings, 30s);
  if (!s.ok()) return Status(s.code(), "handing '" + name + "' its identity: " + s.message());
  return Status::Ok();
}

Status Workspaces::RestoreFromTemplate(const std::string& name, const std::string& uuid,
                                       const virt::WorkspaceMeta& meta, const TemplateFiles& files,
                                       std::string* steps, bool* template_fault) {
  auto t = Clock::now();
  auto* snaps = hv_.snapshots();
  if (!snaps) return Status(Code::kFailedPrecondition, "this hypervisor cannot restore");
  if (ReadFileOrEmpty(BootWordsFile(layout_.WorkspaceDir(name))).empty())
    return Status(Code::kFailedPrecondition, "it was made before templates (no boot.params)");
  if (!meta.disk.empty()) {
    // The template's disk as it was saved, in place of the fresh overlay
    // (same base; a copy of a few MiB).
    const std::string tmp = meta.disk + ".tpl";
    std::error_code ec;
    fs::copy_file(files.disk, tmp, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
    if (!ec) fs::rename(tmp, meta.disk, ec);
    if (ec) {
      fs::remove(tmp, ec);
      *template_fault = true;
      return Status(Code::kInternal, "copying the template's disk: " + ec.message());
    }
  }
  virt::CloneSpec clone;
  clone.name = name;
  clone.uuid = uuid;
  clone.genid = NewUuid();
  clone.agent_socket = meta.agent_socket;
  clone.bulk_socket = store::BulkSocketPath(meta.agent_socket);
  clone.console_log = meta.console_log;
  clone.disk = meta.disk;
  clone.metadata_xml = virt::RenderMetadata(meta);
  // A reboot of the clone boots the workspace's own words, not the template's.
  clone.cmdline = KernelCmdline(ReadFileOrEmpty(BootWordsFile(layout_.WorkspaceDir(name))));
  *steps = "disk " + Since(t);
  t = Clock::now();
  if (Status s = snaps->RestoreAs(files.memory, clone); !s.ok()) {
    *template_fault = true;
    return s;
  }
  *steps += ", restore " + Since(t);
  t = Clock::now();
  for (const auto& sh : meta.shares) {
    Status s =
        snaps->AttachFilesystem(name, {sh.tag, ShareSpecDir(name, sh.tag)}, virtiofsd_binary_);
    if (!s.ok()) {
      hv_.ForceOff(name);
      return s;
    }
  }
  *steps += ", shares " + Since(t);
  return Status::Ok();
}

Result<BootReport> Workspaces::BootFresh(const std::string& name, const std::string& uuid,
                                         const virt::WorkspaceMeta& meta, bool cold) {
  const auto started = Clock::now();
  BootReport report;
  auto key = TemplateKeyFor(meta);
  if (cold) {
    report.reason = "asked for a cold boot";
  } else if (!templates_) {
    report.reason = "templates are off (WORKSPACE_TEMPLATES=off)";
  } else if (meta.net == NetMode::kOpen) {
    report.reason = "--net open has a network card templates lack";
  } else if (meta.shares.size() > kTemplateHotplugSlots) {
    report.reason = "more shares than a template's " + std::to_string(kTemplateHotplugSlots) +
                    " hot-plug slots";
  } else if (meta.memory_mib > kTemplateMaxMemoryMib) {
    report.reason = "templates are made for guests of at most " +
                    std::to_string(kTemplateMaxMemoryMib) + " MiB";
  } else if (!key.ok()) {
    report.reason = key.status().message();
  } else if (auto files = templates_->Find(key.value()); !files.ok()) {
    report.reason = files.status().message();
    if (files.status().code() == Code::kNotFound) {
      report.reason += "; " + templates_->BuildLater(key.value(), TemplateVm(meta));
    }
  } else {
    const std::string console = meta.console_log;
    std::error_code ec;
    const uintmax_t console_from = fs::file_size(console, ec);
    std::string steps;
    // Whose fault a failure is: the template's (its files, its state) or
    // this workspace's (a share that cannot be added or mounted). Only the
    // first discards it: a member's bad share must not cost everyone theirs.
    bool template_fault = false;
    Status s = RestoreFromTemplate(name, uuid, meta, files.value(), &steps, &template_fault);
    if (s.ok()) {
      auto t = Clock::now();
      // A restored guest that does not answer soon is not waited for: the
      // cold boot below starts on a fresh disk.
      s = WaitForAgent(name, std::chrono::seconds(30), console, ec ? 0 : console_from, false);
      template_fault = !s.ok();
      steps += ", agent " + Since(t);
      t = Clock::now();
      if (s.ok()) s = IntroduceGuest(name);
      steps += ", identity " + Since(t);
      if (s.ok()) {
        report.restored = true;
        report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        Log("restored " + name + " from its template in " + Since(started) + " s (" + steps + ")");
        return report;
      }
    }
    agents_.Drop(name);
    hv_.ForceOff(name);
    // A template that cannot be restored goes; the next create builds anew.
    if (template_fault) templates_->Discard(key.value());
    report.reason = "restoring from its template failed (" + s.message() + ")";
    // What the attempt wrote goes: the cold boot starts on a fresh disk.
    if (!meta.disk.empty()) {
      auto fresh =
          store::ReplaceOverlay(meta.base, meta.disk, meta.disk_gib, [] { return Status::Ok(); });
      if (!fresh.ok()) return fresh.status();
    }
  }
  Log("cold boot of " + name + ": " + report.reason);
  std::error_code ec;
  const uintmax_t console_from = fs::file_size(meta.console_log, ec);
  Status s = hv_.Start(name);
  if (!s.ok()) return s;
  s = WaitForAgent(name, kBootTimeout, meta.console_log, ec ? 0 : console_from);
  if (s.ok()) s = IntroduceGuest(name);
  if (!s.ok()) return s;
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return report;
}

Status Workspaces::KeepBootWords(const std::string& name, const std::string& words) {
  return WritePrivateFile(BootWordsFile(layout_.WorkspaceDir(name)), words);
}

}  // namespace ws::controller
