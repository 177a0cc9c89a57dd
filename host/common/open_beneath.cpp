#include "host/common/open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ws {

unique_fd OpenBeneath(int root, const std::string& rel, uint64_t flags, bool follow_inside) {
  if (rel.empty()) return unique_fd(fcntl(root, F_DUPFD_CLOEXEC, 0));
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (follow_inside ? 0 : RESOLVE_NO_SYMLINKS);
  return unique_fd(static_cast<int>(syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how)));
}

}  // namespace ws
