// The PID 1 duties of a workspace VM that has no other init: mount the
// kernel filesystems, load the virtio modules listed in the image, bring up
// loopback, set the host name, find the agent's port, power off.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ws::agent {

// Best effort: each failure is logged to the console and boot goes on,
// except for a root disk (workspace.root=DEV) that cannot be mounted: then
// false, and the caller powers off rather than serve from the initramfs.
bool InitSystem();

// The /dev node of the virtio-serial port called `name` (no udev here, so
// the /dev/virtio-ports symlinks do not exist; sysfs names the ports).
// Empty if it does not appear within `wait`.
std::string FindPort(const std::string& name, std::chrono::milliseconds wait);

// --net open: configures eth0 for QEMU's user-mode network (10.0.2.15/24,
// gateway 10.0.2.2, DNS 10.0.2.3).
void ConfigureUserNetwork();

// Syncs and powers the machine off. Does not return when it succeeds.
void PowerOff();

// Value of `key=` on the kernel command line, or empty.
std::string KernelArg(const std::string& key);
// Every value of `key=` on the kernel command line, in order.
std::vector<std::string> KernelArgs(const std::string& key);

// mkdir -p of an absolute path, each missing directory 0755.
void MakeDirs(const std::string& path);

// A share the host listed as workspace.share=TAG:PATH:MODE.
struct ShareArg {
  std::string tag, path;
  bool read_only = false;
};
// Every well-formed one, in order; malformed ones are logged and skipped.
std::vector<ShareArg> ShareArgs();

}  // namespace ws::agent
