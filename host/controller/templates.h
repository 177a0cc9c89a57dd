// Templates: a booted guest saved once per image and VM size, so that a
// workspace is created or reset by restoring it instead of booting a
// kernel (issue #24). A template is booted with no name, no shares, no
// secrets and no decoys; what makes a workspace its own is handed over
// after the restore (Workspaces::IntroduceGuest).
//
//   STATE/templates/IMAGE-SIZE-FILES/   0700, root's
//     memory.save  libvirt's save image (the guest's memory and devices)
//     disk.qcow2   its root disk then (each clone starts on a copy)
//     template.json  what it was made for, and how long it took
//
// SIZE hashes the VM's shape (CPUs, memory, disk, CPU model, network
// mode); FILES hashes the image's kernel, initramfs and base disk (path,
// size, mtime, inode) and this build's agent: a rebuilt image or a new
// daemon finds no template (stale), boots cold and builds a new one in
// the background. One build at a time. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host/common/mutex.h"
#include "host/common/status.h"
#include "host/store/layout.h"
#include "host/virt/hypervisor.h"
#include "host/virt/vm_spec.h"

namespace ws::controller {

// Hot-plug slots a template's VM keeps free for shares: a workspace with
// more boots cold.
inline constexpr uint32_t kTemplateHotplugSlots = 8;
// A template's build touches all of its guest's memory (it zeroes what is
// free): bigger guests boot cold.
inline constexpr uint32_t kTemplateMaxMemoryMib = 4096;

// What a template is made for: the VM a workspace of this shape boots.
struct TemplateKey {
  std::string image;
  std::string kernel, initrd, base;  // the image's files ("" base: diskless)
  uint32_t cpus = 1, memory_mib = 512, disk_gib = 0;
  std::string cpu_model, accel, net;
  // SIZE and FILES (see above), 16 hex each.
  std::string SizeHash() const;
  std::string FilesHash() const;
  std::string DirName() const { return image + "-" + SizeHash() + "-" + FilesHash(); }
  // "minimal, 1 vCPU, 512 MiB, allowlist"
  std::string Describe() const;
};

struct TemplateFiles {
  std::string memory, disk;  // disk "" for a diskless image
};

struct TemplateInfo {
  std::string image;
  uint32_t cpus = 0, memory_mib = 0, disk_gib = 0;
  std::string net, cpu_model, accel;
  std::string dir_name;                       // TemplateKey::DirName() it was made for
  std::string state;                          // "ready", "stale" or "building"
  uint64_t memory_bytes = 0, disk_bytes = 0;  // on the host's disk
  std::string built_at;
  double build_seconds = 0;
};

class Templates {
 public:
  Templates(const store::Layout& layout, virt::Hypervisor& hv);
  ~Templates();
  Templates(const Templates&) = delete;
  Templates& operator=(const Templates&) = delete;

  // The ready template for `key`; otherwise why not, as a clause for the
  // log and --verbose ("no template for ... yet", "... is being built").
  Result<TemplateFiles> Find(const TemplateKey& key);
  // Queues a build of `key` from `vm` (the template's VM: no identity; the
  // name, UUID, disk, sockets and console are filled in here). A key
  // queued, being built or failed within the last ten minutes is skipped.
  // Says which ("building one", ...).
  std::string BuildLater(const TemplateKey& key, const virt::VmSpec& vm);
  // Builds now (tests, bench). kAlreadyExists when it is ready.
  Status Build(const TemplateKey& key, virt::VmSpec vm);
  // Ready templates and the one being built.
  std::vector<TemplateInfo> List();
  // Removes the template of `key`: it failed to restore (the next create
  // builds anew).
  void Discard(const TemplateKey& key);
  // Removes the templates of `image` (image rm).
  void Forget(const std::string& image);
  // Removes the templates whose base disk is gone (collected once no
  // workspace used it).
  void DropOrphans();
  // The daemon stops: the build under way is cut off (its VM forced off
  // and undefined; a workspace's VM keeps running, a half-built template's
  // must not) and none starts.
  void Shutdown();

 private:
  std::string Dir() const { return layout_.state_dir() + "/templates"; }
  void Worker();

  const store::Layout& layout_;
  virt::Hypervisor& hv_;
  Mutex mu_;
  CondVar cv_;
  std::deque<std::pair<TemplateKey, virt::VmSpec>> queue_ WS_GUARDED_BY(mu_);
  std::string building_ WS_GUARDED_BY(mu_);     // DirName() of the build under way
  std::string building_vm_ WS_GUARDED_BY(mu_);  // its VM, once defined
  std::map<std::string, std::chrono::steady_clock::time_point> failed_ WS_GUARDED_BY(mu_);
  bool stopping_ WS_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace ws::controller
