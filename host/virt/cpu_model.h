// Which CPU a workspace's guest sees. QEMU's default (qemu64: no SSE4.2, no
// AVX) makes binaries built for today's x86-64 baseline die with SIGILL, so
// a VM gets the richest model its accelerator can give: under TCG QEMU's
// `max` (everything TCG emulates: SSE4.2, AVX2, BMI2, FMA, AES, ...), under
// KVM the host's own CPU. A named model is for users who need another.
#pragma once

#include <string>
#include <string_view>

#include "host/common/status.h"
#include "host/virt/accel.h"

namespace ws::virt {

inline constexpr char kCpuMax[] = "max";    // <cpu mode='maximum'/>
inline constexpr char kCpuHost[] = "host";  // <cpu mode='host-passthrough'/> (KVM only)
// What a workspace defined before the CPU model was chosen runs (no <cpu>).
inline constexpr char kCpuQemuDefault[] = "qemu64";

// requested: "" or "auto" (max under TCG, host under KVM), "max", "host",
// or a QEMU/libvirt model name such as "Haswell" or "qemu64". kInvalidArgument
// for a malformed name or "host" without KVM; whether a named model exists
// is libvirt's to say when the VM is defined.
Result<std::string> ChooseCpuModel(std::string_view requested, Accel accel);

}  // namespace ws::virt
