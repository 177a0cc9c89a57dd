// Workspaces' checkpoints, rollback and diff (issue #23). A checkpoint
// freezes the root disk's top layer (an external qcow2 snapshot: nothing
// copied, the VM goes on writing to a new thin overlay); the frozen layers
// and the list (STATE/workspaces/NAME/checkpoints.json) are the host's. A
// rollback boots the VM on a fresh overlay of a checkpoint's layer; diff
// reads the chain on the host (store/disk_diff.h).
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "host/common/atomic_file.h"
#include "host/common/cleanup.h"
#include "host/common/log.h"
#include "host/common/names.h"
#include "host/common/time_format.h"
#include "host/controller/workspaces.h"
#include "host/controller/workspaces_internal.h"
#include "host/store/disks.h"

namespace ws::controller {

using namespace internal;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

// The guest's root file system brought to its disk whole: the page cache
// written and the ext4 journal emptied into place (freezing does both), so
// the host reads what a reboot would see. `then` runs while it is frozen
// (a checkpoint's snapshot); it is thawed whatever happens. Best effort: a
// hostile guest may hold writes back; what is on the disk is what counts.
void Workspaces::QuiesceGuest(const std::string& name, const std::function<void()>& then) {
  auto agent = agents_.Get(name, std::chrono::seconds(5));
  auto run = [&](std::vector<std::string> argv) -> std::string {
    if (!agent.ok()) return agent.status().message();
    guest::RunSpec spec;
    spec.argv = std::move(argv);
    spec.user = "root";
    spec.timeout = std::chrono::seconds(30);
    auto ran = agent.value()->Run(
        spec, [](std::string_view) {}, [] { return false; });
    if (!ran.ok()) return ran.status().message();
    return ran->code == 0 ? "" : "exit " + std::to_string(ran->code);
  };
  std::string why = run({"/bin/sync"});
  if (why.empty()) why = run({"/sbin/fsfreeze", "--freeze", "/"});
  if (!why.empty()) {
    Log("workspace '" + name + "': its disk is read without a quiesce: " + why);
    if (then) then();
    return;
  }
  if (then) then();
  for (int i = 0; i < 3; ++i) {
    if (std::string thaw = run({"/sbin/fsfreeze", "--unfreeze", "/"}); thaw.empty()) return;
  }
  Log("workspace '" + name + "': could not thaw its root file system after reading its disk");
}

// A new layer's file: its number and a time stamp, so no name is ever a
// layer still in use (a number not advanced after a failure).
std::string Workspaces::LayerPath(const std::string& name, uint64_t number) const {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return layout_.WorkspaceDir(name) + "/disk-" + std::to_string(number) + "-" + std::to_string(ns) +
         ".qcow2";
}

Result<size_t> Workspaces::FindCheckpoint(const CheckpointList& list, const std::string& name,
                                          const std::string& label) {
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (list.items[i].label == label) return i;
  }
  return Status(Code::kNotFound, "workspace '" + name + "' has no checkpoint '" + label +
                                     "' (workspace checkpoint " + name + " --list)");
}

std::string Workspaces::CheckpointsPath(const std::string& name) const {
  return layout_.WorkspaceDir(name) + "/checkpoints.json";
}

Result<Workspaces::CheckpointList> Workspaces::ReadCheckpoints(const std::string& name) const {
  CheckpointList list;
  const std::string text = ReadFileOrEmpty(CheckpointsPath(name));
  if (text.empty()) return list;
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j["checkpoints"].is_array()) {
    return Status(Code::kInternal, CheckpointsPath(name) + " is not a checkpoints file");
  }
  list.next = j.value("next", uint64_t{1});
  for (const auto& c : j["checkpoints"]) {
    if (!c.is_object()) continue;
    list.items.push_back({c.value("label", ""), c.value("layer", ""), c.value("created_at", "")});
  }
  return list;
}

Status Workspaces::WriteCheckpoints(const std::string& name, const CheckpointList& list) const {
  json items = json::array();
  for (const auto& c : list.items) {
    items.push_back({{"label", c.label}, {"layer", c.layer}, {"created_at", c.created_at}});
  }
  return WritePrivateFile(CheckpointsPath(name),
                          json{{"next", list.next}, {"checkpoints", items}}.dump(2) + "\n");
}

Result<CheckpointView> Workspaces::Checkpoint(const Caller& c, const std::string& name,
                                              std::string label) {
  const auto t0 = Clock::now();
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  if (ws->meta.disk.empty()) {
    return Status(Code::kFailedPrecondition,
                  "workspace '" + name + "' has no disk to checkpoint (image " + ws->meta.image +
                      " boots from memory; use a disk image such as debian)");
  }
  if (ws->state != virt::VmState::kRunning && ws->state != virt::VmState::kStopped &&
      ws->state != virt::VmState::kCrashed) {
    return NotRunning(name, ws->state);
  }
  virt::Snapshots* snaps = hv_.snapshots();
  if (!snaps) return Status(Code::kFailedPrecondition, "this daemon's hypervisor has no snapshots");
  auto list = ReadCheckpoints(name);
  if (!list.ok()) return list.status();
  if (label.empty()) label = "cp-" + std::to_string(list->next);
  if (Status s = CheckCheckpointLabel(label); !s.ok()) return s;
  for (const auto& cp : list->items) {
    if (cp.label == label) {
      return Status(Code::kAlreadyExists, "workspace '" + name + "' has a checkpoint '" + label +
                                              "' already (workspace checkpoint " + name + " --rm " +
                                              label + " to drop it)");
    }
  }
  if (list->items.size() >= kMaxCheckpoints) {
    return Status(Code::kResourceExhausted,
                  "workspace '" + name + "' has " + std::to_string(kMaxCheckpoints) +
                      " checkpoints, the most it keeps; drop one first (workspace checkpoint " +
                      name + " --rm LABEL) or reset it");
  }
  auto top = snaps->DiskTop(name);
  if (!top.ok()) return top.status();
  const std::string new_top = LayerPath(name, list->next);
  Status frozen;
  auto freeze = [&] { frozen = snaps->FreezeDisk(name, new_top); };
  if (ws->state == virt::VmState::kRunning) {
    QuiesceGuest(name, freeze);
  } else {
    freeze();
  }
  if (!frozen.ok()) return frozen;
  CheckpointView view;
  view.label = label;
  view.layer = top.value();
  view.created_at = NowRfc3339();
  list->items.push_back({view.label, view.layer, view.created_at});
  ++list->next;
  if (Status s = WriteCheckpoints(name, list.value()); !s.ok()) return s;
  view.seconds = Since(t0);
  Log("workspace '" + name + "': checkpoint " + label + " (" + top.value() + " frozen, " +
      std::to_string(view.seconds) + " s)");
  return view;
}

Result<std::vector<CheckpointView>> Workspaces::Checkpoints(const Caller& c,
                                                            const std::string& name) {
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  auto list = ReadCheckpoints(name);
  if (!list.ok()) return list.status();
  std::vector<CheckpointView> out;
  for (const auto& cp : list->items) {
    CheckpointView v;
    v.label = cp.label;
    v.layer = cp.layer;
    v.created_at = cp.created_at;
    out.push_back(std::move(v));
  }
  return out;
}

Status Workspaces::RemoveCheckpoint(const Caller& c, const std::string& name,
                                    const std::string& label) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  auto list = ReadCheckpoints(name);
  if (!list.ok()) return list.status();
  auto at = FindCheckpoint(list.value(), name, label);
  if (!at.ok()) return at.status();
  auto it = list->items.begin() + static_cast<std::ptrdiff_t>(at.value());
  // The label goes; its layer stays in the chain (the disk above it is
  // built on it) until a rollback past it or a reset.
  list->items.erase(it);
  return WriteCheckpoints(name, list.value());
}

Result<RollbackResult> Workspaces::Rollback(const Caller& c, const std::string& name,
                                            const std::string& label) {
  const auto t0 = Clock::now();
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  if (ws->state == virt::VmState::kPaused || ws->state == virt::VmState::kStopping) {
    return NotRunning(name, ws->state);
  }
  virt::Snapshots* snaps = hv_.snapshots();
  if (!snaps) return Status(Code::kFailedPrecondition, "this daemon's hypervisor has no snapshots");
  auto list = ReadCheckpoints(name);
  if (!list.ok()) return list.status();
  if (list->items.empty()) {
    return Status(Code::kNotFound, "workspace '" + name +
                                       "' has no checkpoint to roll back to (make one with "
                                       "workspace checkpoint " +
                                       name + ")");
  }
  size_t at = list->items.size() - 1;
  if (!label.empty()) {
    auto found = FindCheckpoint(list.value(), name, label);
    if (!found.ok()) return found.status();
    at = found.value();
  }
  const CheckpointItem target = list->items[at];
  auto old_top = snaps->DiskTop(name);
  if (!old_top.ok()) return old_top.status();
  // The fresh overlay first: a failure here loses nothing.
  const std::string fresh = LayerPath(name, list->next);
  std::error_code ec;
  if (Status s = store::CreateOverlay(target.layer, fresh, ws->meta.disk_gib); !s.ok()) return s;
  DetachGuest(name);
  if (ws->state != virt::VmState::kStopped && ws->state != virt::VmState::kCrashed) {
    if (Status s = hv_.ForceOff(name); !s.ok()) {
      fs::remove(fresh, ec);
      return s;
    }
  }
  ws->state = virt::VmState::kStopped;
  if (Status s = snaps->SetDiskTop(name, fresh); !s.ok()) {
    fs::remove(fresh, ec);
    (void)StartLocked(std::move(ws.value()));  // as it was
    return s;
  }
  RollbackResult r;
  r.label = target.label;
  // What came after the checkpoint goes: the old top and the layers of
  // later checkpoints (the chain is a line: each is above the last).
  std::vector<std::string> gone = {old_top.value()};
  for (size_t i = at + 1; i < list->items.size(); ++i) gone.push_back(list->items[i].layer);
  for (const auto& f : gone) {
    if (f == target.layer || f == ws->meta.disk) continue;
    r.discarded_bytes += store::AllocatedBytes(f);
    fs::remove(f, ec);
  }
  list->items.resize(at + 1);
  ++list->next;
  if (Status s = WriteCheckpoints(name, list.value()); !s.ok()) return s;
  auto started = StartLocked(std::move(ws.value()));
  if (!started.ok()) return started.status();
  r.workspace = std::move(started.value());
  r.seconds = Since(t0);
  Log("workspace '" + name + "': rolled back to " + target.label + " (" +
      std::to_string(r.seconds) + " s)");
  return r;
}

uint64_t Workspaces::DropCheckpoints(const std::string& name, const std::string& keep) {
  uint64_t held = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(layout_.WorkspaceDir(name), ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind("disk-", 0) == 0 && entry.path().string() != keep) {
      held += store::AllocatedBytes(entry.path().string());
      fs::remove(entry.path(), ec);
    }
  }
  fs::remove(CheckpointsPath(name), ec);
  return held;
}

namespace {

// Diffs run at most two at once in the daemon, one per workspace: each
// holds two qemu-nbd and walks two file systems.
std::mutex diffs_mu;
std::set<std::string> diffs_running;  // guarded by diffs_mu

}  // namespace

Result<DiffView> Workspaces::Diff(const Caller& c, const std::string& name,
                                  const std::string& label) {
  const auto t0 = Clock::now();
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  {
    std::lock_guard lock(diffs_mu);
    if (diffs_running.count(name) || diffs_running.size() >= 2) {
      return Status(Code::kResourceExhausted,
                    "another diff is running (one per workspace, two in all); try again when it "
                    "ends");
    }
    diffs_running.insert(name);
  }
  Cleanup done([&] {
    std::lock_guard lock(diffs_mu);
    diffs_running.erase(name);
  });
  // Not while a checkpoint, rollback or reset moves its layers.
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  if (ws->meta.disk.empty()) {
    return Status(Code::kFailedPrecondition, "workspace '" + name + "' has no disk (image " +
                                                 ws->meta.image + " boots from memory)");
  }
  virt::Snapshots* snaps = hv_.snapshots();
  if (!snaps) return Status(Code::kFailedPrecondition, "this daemon's hypervisor has no snapshots");
  std::string old_image = ws->meta.base;
  DiffView view;
  view.since = "create";
  if (!label.empty()) {
    auto list = ReadCheckpoints(name);
    if (!list.ok()) return list.status();
    auto found = FindCheckpoint(list.value(), name, label);
    if (!found.ok()) return found.status();
    old_image = list->items[found.value()].layer;
    view.since = label;
  }
  auto top = snaps->DiskTop(name);
  if (!top.ok()) return top.status();
  if (ws->state == virt::VmState::kRunning) QuiesceGuest(name, nullptr);
  auto diff = store::DiffDisks(old_image, top.value());
  if (!diff.ok()) return diff.status();
  view.diff = std::move(diff.value());
  view.seconds = Since(t0);
  Log("workspace '" + name + "': diff since " + view.since + ": " +
      std::to_string(view.diff.changes.size()) + " changes, " +
      std::to_string(view.diff.files_walked) + " files walked, " +
      std::to_string(view.diff.journal_blocks) + " blocks from the journal, " +
      std::to_string(view.seconds) + " s");
  return view;
}

}  // namespace ws::controller
