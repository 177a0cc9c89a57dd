// Which accelerator a new VM gets. KVM only where it can really run a stock
// kernel: /dev/kvm must be usable and a kvm_intel or kvm_amd module loaded
// (a PVM-only host has /dev/kvm and kvm_pvm, and a stock kernel hangs there).
#pragma once

#include <string>
#include <string_view>

#include "host/common/status.h"

namespace ws::virt {

enum class Accel { kKvm, kTcg };

struct KvmFacts {
  bool dev_kvm_rw = false;  // /dev/kvm exists and opens read-write
  bool hw_module = false;   // kvm_intel or kvm_amd is loaded
};

// requested: "auto", "kvm" or "tcg". kInvalidArgument for another word,
// kFailedPrecondition for "kvm" on a host that cannot run it.
Result<Accel> ChooseAccel(std::string_view requested, const KvmFacts& facts);

KvmFacts ProbeKvm();
const char* AccelName(Accel a);  // "kvm" / "tcg"

}  // namespace ws::virt
