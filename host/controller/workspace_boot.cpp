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

// The console's text written from byte `from` on.
std::string ConsoleSince(const std::string& console_log, uintmax_t from) {
  std::ifstream f(console_log, std::ios::binary);
  std::error_code ec;
  if (fs::file_size(console_log, ec) < from) from = 0;  // cut by the console cap since
  if (!f || !f.seekg(static_cast<std::streamoff>(from))) return "";
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The line of `text` at `at`, printable only, at most 160 characters.
std::string CleanLine(const std::string& text, size_t at) {
  std::string line;
  for (size_t i = at; i < text.size() && text[i] != '\n' && line.size() < 160; ++i) {
    char c = text[i];
    if (c >= 0x20 && c < 0x7f) line += c;
  }
  return line;
}

// The console's "Kernel panic" line since `from`, cleaned for a one-line
// message; "" when there is none.
std::string PanicLine(const std::string& console_log, uintmax_t from) {
  const std::string text = ConsoleSince(console_log, from);
  size_t at = text.find("Kernel panic");
  return at == std::string::npos ? "" : CleanLine(text, at);
}

// The last line the guest wrote on its console since `from` ("" if none):
// where a boot that never reached the agent stopped.
std::string LastConsoleLine(const std::string& console_log, uintmax_t from) {
  const std::string text = ConsoleSince(console_log, from);
  size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) return "";
  const size_t nl = text.rfind('\n', end);
  return CleanLine(text, nl == std::string::npos ? 0 : nl + 1);
}

}  // namespace

Status Workspaces::WaitForAgent(const std::string& name, std::chrono::seconds timeout,
                                const std::string& console_log, uintmax_t console_from,
                                bool restart) {
  const auto deadline = Clock::now() + timeout;
  // A boot that has not reached the agent halfway through is started over
  // once (a guest that hung while booting; the reason goes to the log).
  auto restart_at = restart ? Clock::now() + timeout / 2 : Clock::time_point::max();
  Status last;
  while (Clock::now() < deadline) {
    if (Clock::now() >= restart_at) {
      restart_at = Clock::time_point::max();
      const std::string console = LastConsoleLine(console_log, console_from);
      Log("boot of " + name + " reached no agent in " + std::to_string(timeout.count() / 2) +
          " s (its console's last line: " + (console.empty() ? "(nothing)" : console) +
          "; last attempt: " + last.message() + "); starting it over once");
      agents_.Drop(name);
      hv_.ForceOff(name);
      if (Status s = hv_.Start(name); !s.ok()) {
        return {s.code(), "workspace '" + name + "' hung while booting and did not start again: " +
                              s.message() + "; see its console with: workspace logs " + name};
      }
    }
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
    auto agent = agents_.Reconnect(name, std::min<std::chrono::milliseconds>(left, 5s));
    if (agent.ok()) return Status::Ok();
    last = agent.status();
    if (last.code() == Code::kFailedPrecondition) return last;  // version mismatch: final
    if (std::string panic = PanicLine(console_log, console_from); !panic.empty()) {
      hv_.ForceOff(name);
      return {Code::kInternal,
              "workspace '" + name + "' did not boot: the guest kernel panicked (" + panic +
                  "); its image may be damaged: run ./scripts/setup, or see the console "
                  "with: workspace logs " +
                  name};
    }
    std::this_thread::sleep_for(50ms);  // a round that failed at once must not spin
  }
  const std::string console = LastConsoleLine(console_log, console_from);
  Log("boot of " + name +
      " timed out; its console's last line: " + (console.empty() ? "(nothing)" : console));
  return {Code::kDeadlineExceeded,
          "the guest agent of '" + name + "' did not answer within " +
              std::to_string(timeout.count()) + " s (" + last.message() + "; the console's last " +
              "line: " + (console.empty() ? "nothing" : "'" + console + "'") +
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
  if (!s.ok())
    return Status(s.code(), "cannot record for '" + name +
                                "' that its commits are not known yet: " + s.message());
  return Status::Ok();
}

Result<WorkspaceView> Workspaces::StartLocked(WorkspaceView ws, bool fresh, bool cold) {
  const std::string& name = ws.name;
  if (ws.state == virt::VmState::kRunning) return ws;
  if (ws.state == virt::VmState::kPaused || ws.state == virt::VmState::kStopping) {
    return Status(Code::kFailedPrecondition, "workspace '" + name + "' is " +
                                                 virt::VmStateName(ws.state) +
                                                 "; try again or stop it first");
  }
  // What served the VM before it stopped on its own (crashed, powered off
  // from inside) goes first: it must not take the new VM's agent socket.
  DetachGuest(name);
  Status s = PrepareShares(name, ws.meta);
  if (!s.ok()) return s;
  std::error_code ec;
  if (!ws.meta.disk.empty() && !fs::exists(ws.meta.disk, ec)) {
    return Status(Code::kFailedPrecondition,
                  "the disk of '" + name + "' (" + ws.meta.disk +
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
  if (fresh) {
    auto booted = BootFresh(name, ws.uuid, ws.meta, cold);
    if (!booted.ok()) return booted.status();
    ws.boot = booted.value();
  } else {
    s = hv_.Start(name);
    if (!s.ok()) {
      (void)Record(UnfetchedRecord(name), before);  // it never ran: what was known still holds
      return s;
    }
    s = WaitForAgent(name, kBootTimeout, ws.meta.console_log, ec ? 0 : console_from);
    if (s.ok()) s = IntroduceGuest(name);
    if (!s.ok()) return s;
  }
  AttachGuest(name, ws.meta);
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

  net_.Detach(name);
  auto agent = agents_.Get(name, 2s);
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
    return {Code::kFailedPrecondition, "workspace '" + name + "' is " +
                                           virt::VmStateName(ws->state) +
                                           "; stop it first (workspace stop " + name +
                                           ") or use: workspace destroy --force " + name};
  }
  if (!force) {
    if (auto u = ReadRecord(UnfetchedRecord(name)); u.unknown || u.count > 0)
      return RefuseLosing(name, "destroy", u);
  }
  DetachGuest(name);
  Status s = hv_.ForceOff(name);
  if (!s.ok()) return s;
  s = hv_.Undefine(name);
  if (!s.ok()) return s;
  RemoveFiles(name, ws->meta);
  if (!ws->meta.base.empty()) CollectUnusedBases();
  return Status::Ok();
}

Result<ResetResult> Workspaces::Reset(const Caller& c, const std::string& name, bool force,
                                      bool cold_boot) {
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
      auto agent = agents_.Get(name, 5s);
      auto asked = agent.ok() ? AskGuest(*agent.value(), git) : Result<Unfetched>(agent.status());
      if (!asked.ok()) {
        return Status(Code::kFailedPrecondition,
                      "cannot ask '" + name + "' for commits the host has not fetched (" +
                          asked.status().message() + "); workspace reset --force " + name +
                          " throws away whatever its disk holds");
      }
      u = asked.value();
    }
    if (u.unknown || u.count > 0) return RefuseLosing(name, "reset", u);
  }
  std::error_code ec;
  if (!ws->meta.disk.empty() && !fs::exists(ws->meta.base, ec)) {
    return Status(Code::kFailedPrecondition,
                  "the base disk of '" + name + "' (" + ws->meta.base +
                      ") is gone; destroy the workspace and create it again");
  }
  // Everything the guest holds is about to be thrown away: no clean
  // shutdown to wait for (shares are served by the host and lose nothing).
  // The fresh disk is made first, so a failed reset loses nothing.
  auto let_go = [&]() -> Status {
    DetachGuest(name);
    if (ws->state != virt::VmState::kStopped && ws->state != virt::VmState::kCrashed) {
      if (Status s = hv_.ForceOff(name); !s.ok()) return s;
    }
    ws->state = virt::VmState::kStopped;
    // Checkpoints left the VM on a later layer: back to the workspace's disk.
    if (auto* snaps = hv_.snapshots(); snaps && !ws->meta.disk.empty()) {
      auto top = snaps->DiskTop(name);
      if (top.ok() && top.value() != ws->meta.disk) {
        if (Status s = snaps->SetDiskTop(name, ws->meta.disk); !s.ok()) return s;
      }
    }
    return Status::Ok();
  };
  ResetResult r;
  if (ws->meta.disk.empty()) {
    if (Status s = let_go(); !s.ok()) return s;
  } else {
    auto held = store::ReplaceOverlay(ws->meta.base, ws->meta.disk, ws->meta.disk_gib, let_go);
    if (!held.ok()) return held.status();
    // Checkpoints' layers go with the rest.
    r.discarded_bytes = held.value() + DropCheckpoints(name, ws->meta.disk);
  }
  auto started = StartLocked(std::move(ws.value()), true, cold_boot);
  if (!started.ok()) return started.status();
  r.workspace = std::move(started.value());
  return r;
}

}  // namespace ws::controller
