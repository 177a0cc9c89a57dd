// The daemon's composition root: prepares the state dir, opens libvirt,
// wires the real Hypervisor, images, workspaces and gRPC service together,
// and serves until SIGTERM/SIGINT. Running VMs outlive it; a new daemon finds
// them again through libvirt.
#pragma once

#include <string>

namespace ws::controller {

struct DaemonOptions {
  std::string state_dir;    // required
  std::string connect_uri;  // empty: the embedded driver under the state dir
  std::string accel;        // "auto", "kvm" or "tcg"
  // For tests only: one more trust anchor for the real servers of
  // intercepted hosts (the system's store is always used).
  std::string upstream_ca;
};

// Returns the process exit code (0 after a clean shutdown, 1 on failure).
int RunDaemon(const DaemonOptions& opts);

}  // namespace ws::controller
