#include "host/controller/share_changes.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host/common/open_beneath.h"
#include "host/common/printable.h"
#include "host/common/unique_fd.h"
#include "host/shares/guard_log.h"
#include "host/shares/share_check.h"

namespace ws::controller {
namespace {

// The file at `rel` beneath `dir`, reached without a symlink or "..".
bool StatBeneath(int dir, const std::string& rel, struct stat* st) {
  unique_fd fd = OpenBeneath(dir, rel, O_PATH | O_NOFOLLOW);
  return fd && fstat(fd.get(), st) == 0;
}

}  // namespace

ShareChanges ReadShareChanges(const virt::WorkspaceMeta& meta,
                              const std::function<std::string(const std::string&)>& spec_dir_of) {
  ShareChanges out;
  for (const auto& sh : meta.shares) {
    if (sh.read_only) continue;
    auto dir = shares::OpenDirectoryNoSymlinks(sh.host_path);
    for (const auto& e : shares::ReadGuardChanges(spec_dir_of(sh.tag))) {
      if (e.op == "more") {
        out.truncated = true;
        continue;
      }
      ShareChange c{sh.host_path, e.path, e.op, e.time};
      struct stat st;
      if (dir.ok() && StatBeneath(dir->get(), FromPrintableExact(e.path), &st)) {
        c.exists = true;
        c.executable = S_ISREG(st.st_mode) && (st.st_mode & S_IXUSR);
      }
      out.changes.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace ws::controller
