// The guest's serial console is a file QEMU appends to (there is no virtlogd
// here to rotate it), and a guest can write to its console as fast as QEMU
// emulates a serial port. So the daemon caps every console: about once a
// second, a console.log past kMaxConsoleBytes has its last kMaxConsoleBytes
// kept as console.log.1 (the one before goes) and is cut to zero. QEMU
// opened it O_APPEND, so it writes on from the new end. On disk a console
// takes at most 2 x kMaxConsoleBytes plus what the guest writes in a second.
#pragma once

#include <cstdint>
#include <string>

#include "host/common/status.h"

namespace ws::controller {

inline constexpr uint64_t kMaxConsoleBytes = 4ull << 20;

// Caps one file as above (nothing when it is absent, not a regular file, or
// within the bound). Never follows a symlink at `path` or at PATH.1.
Status CapFile(const std::string& path, uint64_t max_bytes);

// Caps every STATE/workspaces/*/console.log each second, on a thread of its
// own that runs until the process ends.
void StartConsoleCap(const std::string& workspaces_dir);

}  // namespace ws::controller
