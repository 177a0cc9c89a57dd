// The seccomp filter workspace-virtiofsd installs before exec'ing virtiofsd
// (it stacks with virtiofsd's own): no set-user-ID or set-group-ID mode bits
// in any chmod/create/mkdir/mknod, no device nodes, and no openat2 or
// io_uring (answered ENOSYS, so nothing slips past the argument checks).
#pragma once

#include "host/common/status.h"

namespace ws::shares {

Status InstallShareFilter();

}  // namespace ws::shares
