#include "host/virt/cpu_model.h"

namespace ws::virt {

Result<std::string> ChooseCpuModel(std::string_view requested, Accel accel) {
  if (requested.empty() || requested == "auto")
    return std::string(accel == Accel::kKvm ? kCpuHost : kCpuMax);
  if (requested == kCpuHost && accel != Accel::kKvm) {
    return Status(Code::kInvalidArgument,
                  "--cpu-model host needs KVM, and this daemon runs VMs under TCG; "
                  "use max (the default) or a model name");
  }
  bool ok = requested.size() <= 64;
  for (char c : requested) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return Status(Code::kInvalidArgument,
                  "--cpu-model: a model is up to 64 characters of A-Z, a-z, 0-9, '-', "
                  "'_', '.' (auto, max, host, or a name such as Haswell; "
                  "list them with: virsh cpu-models x86_64)");
  }
  return std::string(requested);
}

}  // namespace ws::virt
