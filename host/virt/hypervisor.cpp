#include "host/virt/hypervisor.h"

namespace ws::virt {

const char* VmStateName(VmState s) {
  switch (s) {
    case VmState::kRunning:
      return "running";
    case VmState::kStopped:
      return "stopped";
    case VmState::kCrashed:
      return "crashed";
    case VmState::kPaused:
      return "paused";
    case VmState::kStopping:
      return "stopping";
    case VmState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace ws::virt
