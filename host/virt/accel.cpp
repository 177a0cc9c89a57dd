#include "host/virt/accel.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ws::virt {

Result<Accel> ChooseAccel(std::string_view requested, const KvmFacts& facts) {
  const bool kvm_ok = facts.dev_kvm_rw && facts.hw_module;
  if (requested == "auto" || requested.empty()) return kvm_ok ? Accel::kKvm : Accel::kTcg;
  if (requested == "tcg") return Accel::kTcg;
  if (requested == "kvm") {
    if (kvm_ok) return Accel::kKvm;
    return Status(Code::kFailedPrecondition,
                  facts.dev_kvm_rw ? "KVM cannot run a stock kernel here (no kvm_intel or kvm_amd "
                                     "module, e.g. a PVM-only host); use --accel tcg or auto"
                                   : "/dev/kvm is missing or not usable; use --accel tcg or auto");
  }
  return Status(Code::kInvalidArgument,
                "unknown accelerator '" + std::string(requested) + "': use auto, kvm or tcg");
}

KvmFacts ProbeKvm() {
  KvmFacts f;
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    f.dev_kvm_rw = true;
    close(fd);
  }
  struct stat st;
  f.hw_module = stat("/sys/module/kvm_intel", &st) == 0 || stat("/sys/module/kvm_amd", &st) == 0;
  return f;
}

const char* AccelName(Accel a) {
  switch (a) {
    case Accel::kKvm:
      return "kvm";
    case Accel::kTcg:
      return "tcg";
  }
  return "tcg";
}

}  // namespace ws::virt
