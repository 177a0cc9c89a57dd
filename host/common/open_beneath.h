// Opening a path beneath a folder fd the way every guest-written tree is
// walked here: openat2 with RESOLVE_BENEATH, no magic links, and (unless
// asked) no symlink in any component.
#pragma once

#include <cstdint>
#include <string>

#include "host/common/unique_fd.h"

namespace ws {

// `rel` beneath `root` ("" is `root` itself, dup'ed), with `flags`
// (O_CLOEXEC added). `follow_inside`: symlinks that stay beneath `root`
// are followed. Invalid fd (errno set) on failure.
unique_fd OpenBeneath(int root, const std::string& rel, uint64_t flags, bool follow_inside = false);

}  // namespace ws
