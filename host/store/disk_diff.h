// DiffDisks: what changed in a guest's root file system between two points
// of its disk's qcow2 chain (a checkpoint's frozen layer, or the image's
// base, and the top the VM writes to now), computed on the host without
// trusting the guest and without mounting anything in the host kernel:
//   - which bytes changed comes from the chain itself (`qemu-img map`: the
//     ranges held by layers above the old point), which only QEMU writes —
//     nothing the guest does in its own file system can hide a write there;
//   - the file systems are read in user space by libext2fs, over NBD from
//     a `qemu-nbd` per image (read-only, started by libnbd, no socket path),
//     each with its ext4 journal's committed transactions applied, as the
//     guest's next boot would replay them (a change the guest left in its
//     journal is seen);
//   - a file is changed when its inode differs (any field but its access
//     time and checksum: mode, owner, size, times, flags, extended
//     attributes, its block map), or when any of its blocks lies in a
//     changed range and its bytes there differ.
// Bounded: at most kMaxDiffFiles files and 256 MiB of paths walked per
// image, 50,000,000 entries and blocks visited, 64 levels, 4 KiB paths,
// kMaxDiffChanges listed; past a bound the result says it was cut.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/common/status.h"

namespace ws::store {

struct DiskChange {
  enum class Kind { kAdded, kChanged, kRemoved };
  Kind kind = Kind::kChanged;
  std::string path;  // absolute in the guest
  // As it is now (as it was, for a removed one).
  uint64_t size = 0;
  uint32_t mode = 0;  // st_mode bits: type and permissions
  uint32_t uid = 0, gid = 0;
  uint32_t old_mode = 0;  // a changed one's mode before (0 for added/removed)
};

struct DiskDiff {
  std::vector<DiskChange> changes;  // by path
  bool cut = false;                 // a bound was reached: the list is incomplete
  uint64_t files_walked = 0;        // in both images
  uint64_t changed_bytes = 0;       // held by the layers above the old point
  uint64_t journal_blocks = 0;      // blocks read from the ext4 journals (replayed)
  // Folders whose entries could not all be read (the list is cut there).
  std::vector<std::string> unreadable;
};

inline constexpr uint64_t kMaxDiffFiles = 2'000'000;
inline constexpr size_t kMaxDiffChanges = 50'000;  // listed; past it the list is cut

// `old_image` must be in `new_image`'s backing chain (or be it: nothing
// changed). Both are qcow2 files on the host.
Result<DiskDiff> DiffDisks(const std::string& old_image, const std::string& new_image);

const char* DiskChangeKindName(DiskChange::Kind k);  // "added", "changed", "removed"

}  // namespace ws::store
