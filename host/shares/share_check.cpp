#include "host/shares/share_check.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "host/shares/share_config.h"

namespace ws::shares {
namespace {

std::vector<gid_t> GroupsOf(uid_t uid, gid_t gid) {
  std::vector<gid_t> groups(64);
  passwd pw{}, *res = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || !res) return {gid};
  int n = static_cast<int>(groups.size());
  if (getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    getgrouplist(pw.pw_name, gid, groups.data(), &n);
  }
  groups.resize(static_cast<size_t>(n));
  return groups;
}

// What the child reports: an errno of the open (0: opened), whether `mode`
// access was granted, and the directory's identity.
struct Probe {
  int open_errno = 0;
  int access_ok = 0;
  uint64_t dev = 0;
  uint64_t ino = 0;
};

int OpenDirectory(const std::string& path, bool follow) {
  if (follow) return open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS;
  return static_cast<int>(syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how));
}

// Probes `path` in a child process with the user's ids and groups, so the
// kernel checks every component with their rights.
Result<Probe> ProbeAs(uid_t uid, gid_t gid, const std::string& path, int mode, bool follow) {
  const std::vector<gid_t> groups = GroupsOf(uid, gid);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return ErrnoStatus("fork", e);
  }
  if (pid == 0) {
    close(p[0]);
    if (uid != 0 &&
        (setgroups(groups.size(), groups.data()) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) {
      _exit(2);
    }
    Probe r;
    int fd = OpenDirectory(path, follow);
    if (fd < 0) {
      r.open_errno = errno;
    } else {
      struct stat st;
      if (fstat(fd, &st) == 0) {
        r.dev = st.st_dev;
        r.ino = st.st_ino;
      }
      r.access_ok = mode == F_OK || faccessat(fd, "", mode, AT_EMPTY_PATH) == 0;
    }
    _exit(write(p[1], &r, sizeof r) == sizeof r ? 0 : 3);
  }
  close(p[1]);
  Probe r;
  const bool got = read(p[0], &r, sizeof r) == sizeof r;
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (!got || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    return Status(Code::kInternal, "checking " + path + " with the caller's rights failed");
  }
  return r;
}

std::string Doing(int mode) { return (mode & W_OK) ? "read and write " : "read "; }

std::string HomeOf(uid_t uid) {
  passwd pw{}, *res = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || !res || !pw.pw_dir) return "";
  char* real = realpath(pw.pw_dir, nullptr);
  std::string home = real ? real : pw.pw_dir;
  free(real);
  return home;
}

}  // namespace

Result<DirIdentity> IdentifyDirectoryAs(uid_t uid, gid_t gid, const std::string& path, int mode) {
  auto r = ProbeAs(uid, gid, path, mode, /*follow=*/false);
  if (!r.ok()) return r.status();
  switch (r->open_errno) {
    case 0:
      break;
    case ENOENT:
      return Status(Code::kNotFound, path + " does not exist");
    case ELOOP:
      return Status(Code::kFailedPrecondition, "a part of " + path + " is a symlink");
    case ENOTDIR:
      return Status(Code::kFailedPrecondition,
                    path + " is not a directory (or a part of it is a symlink)");
    case EACCES:
    case EPERM:
      return Status(Code::kPermissionDenied, "you cannot reach " + path);
    default:
      return ErrnoStatus("opening " + path, r->open_errno);
  }
  if (!r->access_ok) return Status(Code::kPermissionDenied, "you cannot " + Doing(mode) + path);
  return DirIdentity{r->dev, r->ino};
}

Result<unique_fd> OpenDirectoryNoSymlinks(const std::string& path) {
  unique_fd fd(OpenDirectory(path, false));
  if (!fd) return ErrnoStatus("opening " + path + " (no symlinks)", errno);
  return fd;
}

Result<ShareOwner> CheckShareForCaller(ShareSpec& spec, uid_t uid, gid_t gid,
                                       const std::string& state_dir, bool allow_dangerous) {
  const std::string asked = spec.host_path;
  if (asked.find('\n') != std::string::npos)
    return Status(Code::kInvalidArgument, "share path has a newline");
  // Before root resolves anything: can the caller reach what they named?
  if (uid != 0) {
    auto reach = ProbeAs(uid, gid, asked, F_OK, /*follow=*/true);
    if (!reach.ok()) return reach.status();
    if (reach->open_errno != 0 && reach->open_errno != ENOTDIR) {
      return Status(Code::kNotFound, "share " + asked + " does not exist or you cannot reach it");
    }
  }
  allow_dangerous = allow_dangerous && uid == 0;
  const std::string dangerous_hint = uid == 0 ? "; use --share-dangerous if you mean it"
                                              : " (only root may, with --share-dangerous)";
  char* real = realpath(asked.c_str(), nullptr);
  if (!real) return Status(Code::kNotFound, "share " + asked + " does not exist");
  spec.host_path = real;
  free(real);
  struct stat st;
  if (stat(spec.host_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(Code::kInvalidArgument,
                  "share " + asked + " is not a directory; share the folder that holds it");
  }
  if (spec.host_path == "/" && !allow_dangerous) {
    return Status(Code::kInvalidArgument,
                  "refusing to share / (the whole host, secrets included)" + dangerous_hint);
  }
  const std::string home = HomeOf(uid);
  if (!home.empty() && spec.host_path == home && !allow_dangerous) {
    return Status(Code::kInvalidArgument, "refusing to share your home folder " + home +
                                              " (~/.ssh, tokens, ...); share a project folder" +
                                              dangerous_hint);
  }
  if (PathWithin(spec.host_path, state_dir) || PathWithin(state_dir, spec.host_path)) {
    return Status(Code::kInvalidArgument,
                  "share " + asked + " overlaps the workspace state dir " + state_dir);
  }
  // The canonical path, walked again with the caller's rights and no
  // symlinks: what is recorded is the directory the caller reached.
  const int need = R_OK | X_OK | (spec.read_only ? 0 : W_OK);
  auto id = IdentifyDirectoryAs(uid, gid, spec.host_path, need);
  if (!id.ok()) {
    if (id.status().code() == Code::kPermissionDenied && !spec.read_only) {
      return Status(Code::kPermissionDenied,
                    "you cannot read and write " + asked +
                        "; share it read-only with :ro if you can read it");
    }
    return Status(id.status().code(), "share " + asked + ": " + id.status().message());
  }
  if (uid != 0) return ShareOwner{uid, gid, id->dev, id->ino};
  return ShareOwner{st.st_uid, st.st_gid, id->dev, id->ino};
}

Result<ShareOwner> GuestRootIds() {
  passwd pw{}, *res = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(kGuestRootUser, &pw, buf.data(), buf.size(), &res) != 0 || !res ||
      pw.pw_uid == 0) {
    return Status(Code::kFailedPrecondition,
                  std::string("the system user '") + kGuestRootUser +
                      "' (what guest root becomes on the host) is missing; run ./scripts/setup");
  }
  return ShareOwner{pw.pw_uid, pw.pw_gid};
}

}  // namespace ws::shares
