// Disks: a workspace's root disk, a thin qcow2 overlay on its image's
// read-only base. Checkpoints and rollback will live here too.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "host/common/status.h"

namespace ws::store {

// The guest-visible size of a qcow2 image (0 when it is not one).
uint64_t Qcow2VirtualSize(const std::string& path);

// Bytes a file takes on the host's disk (what a thin image really holds).
uint64_t AllocatedBytes(const std::string& path);

// A thin overlay on `base`, `gib` GiB large, at `path`, 0600. Nothing is
// left at `path` when it fails.
Status CreateOverlay(const std::string& base, const std::string& path, uint32_t gib);

// A fresh overlay in place of `disk` (reset): made beside it first, so a
// failure loses nothing; `install` is called between the two steps (the VM
// must let go of the old disk) and may refuse, which removes the fresh one.
// Returns what the old overlay held.
Result<uint64_t> ReplaceOverlay(const std::string& base, const std::string& disk, uint32_t gib,
                                const std::function<Status()>& install);

}  // namespace ws::store
