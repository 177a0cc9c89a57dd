// The PID 1 duties of a workspace VM that has no other init: mount the
// kernel filesystems, load the virtio modules listed in the image, bring up
// loopback, set the host name, find the agent's port, power off.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "host/common/boot_params.h"

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

// A template's boot: every free page of guest memory is zeroed (faulted in
// by a child, which then ends), so that the saved state skips it.
void ZeroFreeMemory();

// What the host said at boot (host/common/boot_params.h), read once from
// /proc/cmdline; empty when it cannot be read (logged).
const boot::BootParams& Boot();

// mkdir -p of an absolute path, each missing directory 0755.
void MakeDirs(const std::string& path);

}  // namespace ws::agent
