// Hypervisor: what the controller needs from a VM manager, in its own words.
// The libvirt adapter is the only implementation and the only code that
// includes libvirt.h. Implementations are thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "host/virt/vm_spec.h"

namespace ws::virt {

enum class VmState { kRunning, kStopped, kCrashed, kPaused, kStopping, kUnknown };
const char* VmStateName(VmState s);  // "running", "stopped", ... (docs/cli.md)

struct VmInfo {
  std::string name;
  std::string uuid;
  VmState state = VmState::kUnknown;
  std::string metadata_xml;  // our <workspace> element; empty if not ours
};

// What a VM restored from another's saved state takes as its own; every
// other device is the saved VM's (issue #24).
struct CloneSpec {
  std::string name, uuid;
  std::string genid;  // fresh: the guest sees a new generation
  std::string agent_socket, bulk_socket, console_log;
  std::string disk;  // root disk: a copy of the saved VM's ("" none)
  std::string metadata_xml;
  // Its kernel's command line for its next boot (a reboot): the running
  // kernel is the saved one's.
  std::string cmdline;
};

// External disk snapshots of a VM's root disk (checkpoints and rollback,
// issue #23), and saved VM states (templates, issue #24).
class Snapshots {
 public:
  virtual ~Snapshots() = default;
  // The file the VM's root disk writes to now: the top of its chain.
  virtual Result<std::string> DiskTop(const std::string& name) = 0;
  // Freezes the root disk as it is: the VM writes to a new thin overlay at
  // `new_top` on it from now on (running: live, nothing copied). The old
  // top is read-only from then on.
  virtual Status FreezeDisk(const std::string& name, const std::string& new_top) = 0;
  // Points a stopped VM's root disk at `top` (a qcow2 whose chain the
  // caller made).
  virtual Status SetDiskTop(const std::string& name, const std::string& top) = 0;
  // Saves the running VM's whole state (memory and devices) to `path`; the
  // VM is off afterwards.
  virtual Status SaveState(const std::string& name, const std::string& path) = 0;
  // Runs the defined, stopped VM `clone.name` from the state saved at
  // `path` by another VM, as CloneSpec says. Its definition is untouched:
  // its next start is a cold boot of its own devices.
  virtual Status RestoreAs(const std::string& path, const CloneSpec& clone) = 0;
  // Adds a virtiofs share to the running VM (live only).
  virtual Status AttachFilesystem(const std::string& name, const VmSpec::Filesystem& fs,
                                  const std::string& virtiofsd_binary) = 0;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  // Persistent definition (survives daemon restarts); the adapter renders
  // its own description of the VM. kAlreadyExists if taken.
  virtual Status Define(const VmSpec& spec) = 0;
  virtual Status Start(const std::string& name) = 0;
  // Pulls the plug (no guest cooperation). Ok if already off.
  virtual Status ForceOff(const std::string& name) = 0;
  // Removes the definition; the VM must be off.
  virtual Status Undefine(const std::string& name) = 0;
  // kNotFound when no such domain exists.
  virtual Result<VmInfo> Get(const std::string& name) = 0;
  // Replaces our metadata element (live and persistent).
  virtual Status SetMetadata(const std::string& name, const std::string& xml) = 0;
  // Every domain that carries our metadata.
  virtual Result<std::vector<VmInfo>> List() = 0;
  virtual std::string Uri() const = 0;
  // A connected stream socket (non-blocking) to the running VM's agent
  // channel, within `timeout`. kNotFound when the VM has no channel open
  // (it is not running): nothing to wait for.
  virtual Result<unique_fd> DialAgent(const std::string& name,
                                      std::chrono::milliseconds timeout) = 0;
  // Its bulk output port; never waits (QEMU takes one client). kNotFound
  // when there is none (a VM defined before the port existed).
  virtual Result<unique_fd> DialBulk(const std::string& name) = 0;
  // Null while the adapter has none (today's libvirt adapter).
  virtual Snapshots* snapshots() { return nullptr; }
};

}  // namespace ws::virt
