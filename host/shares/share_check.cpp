#include "host/shares/share_check.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "host/shares/share_config.h"

namespace ws::shares {
namespace {

// access(2) as the caller: a child process takes the caller's ids and groups.
bool CallerMay(uid_t uid, gid_t gid, const std::string& path, int mode) {
  std::vector<gid_t> groups(64);
  passwd pw{}, *res = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res) {
    int n = static_cast<int>(groups.size());
    if (getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) {
      groups.resize(static_cast<size_t>(n));
      getgrouplist(pw.pw_name, gid, groups.data(), &n);
    }
    groups.resize(static_cast<size_t>(n));
  } else {
    groups = {gid};
  }
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (setgroups(groups.size(), groups.data()) != 0 || setgid(gid) != 0 || setuid(uid) != 0) _exit(2);
    _exit(access(path.c_str(), mode) == 0 ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

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

Result<ShareOwner> CheckShareForCaller(ShareSpec& spec, uid_t uid, gid_t gid, const std::string& state_dir,
                                       bool allow_dangerous) {
  const std::string asked = spec.host_path;
  if (asked.find('\n') != std::string::npos) return Status(Code::kInvalidArgument, "share path has a newline");
  if (uid != 0 && !CallerMay(uid, gid, asked, F_OK)) {
    return Status(Code::kNotFound, "share " + asked + " does not exist or you cannot reach it");
  }
  char* real = realpath(asked.c_str(), nullptr);
  if (!real) return Status(Code::kNotFound, "share " + asked + " does not exist");
  spec.host_path = real;
  free(real);
  struct stat st;
  if (stat(spec.host_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(Code::kInvalidArgument, "share " + asked + " is not a directory; share the folder that holds it");
  }
  if (spec.host_path == "/" && !allow_dangerous) {
    return Status(Code::kInvalidArgument,
                  "refusing to share / (the whole host, secrets included); use --share-dangerous if you mean it");
  }
  const std::string home = HomeOf(uid);
  if (!home.empty() && spec.host_path == home && !allow_dangerous) {
    return Status(Code::kInvalidArgument, "refusing to share your home folder " + home +
                                              " (~/.ssh, tokens, ...); share a project folder, or use "
                                              "--share-dangerous if you mean it");
  }
  if (PathWithin(spec.host_path, state_dir) || PathWithin(state_dir, spec.host_path)) {
    return Status(Code::kInvalidArgument, "share " + asked + " overlaps the workspace state dir " + state_dir);
  }
  const int need = R_OK | X_OK | (spec.read_only ? 0 : W_OK);
  if (uid != 0 && !CallerMay(uid, gid, spec.host_path, need)) {
    return Status(Code::kPermissionDenied, std::string("you cannot ") +
                                               (spec.read_only ? "read " : "read and write ") + asked +
                                               (spec.read_only ? "" : "; share it read-only with :ro if you can read it"));
  }
  if (uid != 0) return ShareOwner{uid, gid};
  return ShareOwner{st.st_uid, st.st_gid};
}

Result<ShareOwner> GuestRootIds() {
  passwd pw{}, *res = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(kGuestRootUser, &pw, buf.data(), buf.size(), &res) != 0 || !res || pw.pw_uid == 0) {
    return Status(Code::kFailedPrecondition,
                  std::string("the system user '") + kGuestRootUser +
                      "' (what guest root becomes on the host) is missing; run ./scripts/setup");
  }
  return ShareOwner{pw.pw_uid, pw.pw_gid};
}

}  // namespace ws::shares
