#include "host/shares/guard.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "host/common/open_beneath.h"
#include "host/common/printable.h"
#include "host/shares/guard_log.h"

namespace ws::shares {
namespace {

struct CtxFree {
  void operator()(void* c) const { seccomp_release(c); }
};

// What a call does to the path it names, which decides the rule applied.
enum class Intent {
  kCreate,  // a new name, or an existing file opened for writing
  kMkdir,   // a new directory: fine on an ancestor of a protected path
  kAppear,  // a name that appears whole (rename or link target, symlink)
  kWrite,   // an existing object changed (opened for writing, truncated, chmod)
  kRemove,  // a name that goes (unlink, rmdir, rename or link source)
};

struct Target {
  int dirfd;
  uint64_t path_ptr;  // 0: the object is dirfd itself (fchmod)
  Intent intent;
  const char* op;
};

// The calls the filter hands to the guard, and what each one names.
std::vector<Target> TargetsOf(const seccomp_data& d) {
  const auto fd = [&](int i) { return static_cast<int>(d.args[i]); };
  const auto at = [&](int i) { return d.args[i]; };
  const int cwd = AT_FDCWD;
  const long nr = d.nr;
  const auto open_intent = [](uint64_t flags) {
    return (flags & O_CREAT) ? Intent::kCreate : Intent::kWrite;
  };
  if (nr == SYS_openat) return {{fd(0), at(1), open_intent(d.args[2]), "write"}};
  if (nr == SYS_open) return {{cwd, at(0), open_intent(d.args[1]), "write"}};
  if (nr == SYS_creat) return {{cwd, at(0), Intent::kCreate, "create"}};
  if (nr == SYS_mkdirat) return {{fd(0), at(1), Intent::kMkdir, "mkdir"}};
  if (nr == SYS_mkdir) return {{cwd, at(0), Intent::kMkdir, "mkdir"}};
  if (nr == SYS_mknodat) return {{fd(0), at(1), Intent::kCreate, "create"}};
  if (nr == SYS_mknod) return {{cwd, at(0), Intent::kCreate, "create"}};
  if (nr == SYS_symlinkat) return {{fd(1), at(2), Intent::kAppear, "symlink"}};
  if (nr == SYS_symlink) return {{cwd, at(1), Intent::kAppear, "symlink"}};
  if (nr == SYS_linkat)
    return {{fd(0), at(1), Intent::kRemove, "link"}, {fd(2), at(3), Intent::kAppear, "link"}};
  if (nr == SYS_link)
    return {{cwd, at(0), Intent::kRemove, "link"}, {cwd, at(1), Intent::kAppear, "link"}};
  if (nr == SYS_renameat || nr == SYS_renameat2) {
    // RENAME_EXCHANGE moves both ways: each name goes and appears anew.
    const bool exchange = nr == SYS_renameat2 && (d.args[4] & RENAME_EXCHANGE);
    return {{fd(0), at(1), exchange ? Intent::kAppear : Intent::kRemove, "rename"},
            {fd(2), at(3), Intent::kAppear, "rename"}};
  }
  if (nr == SYS_rename)
    return {{cwd, at(0), Intent::kRemove, "rename"}, {cwd, at(1), Intent::kAppear, "rename"}};
  if (nr == SYS_unlinkat) return {{fd(0), at(1), Intent::kRemove, "remove"}};
  if (nr == SYS_unlink || nr == SYS_rmdir) return {{cwd, at(0), Intent::kRemove, "remove"}};
  if (nr == SYS_fchmodat) return {{fd(0), at(1), Intent::kWrite, "chmod"}};
  if (nr == SYS_chmod) return {{cwd, at(0), Intent::kWrite, "chmod"}};
  if (nr == SYS_fchmod) return {{fd(0), 0, Intent::kWrite, "chmod"}};
  if (nr == SYS_truncate) return {{cwd, at(0), Intent::kWrite, "write"}};
  if (nr == SYS_fchownat) return {{fd(0), at(1), Intent::kWrite, "chown"}};
  if (nr == SYS_fchown) return {{fd(0), 0, Intent::kWrite, "chown"}};
  if (nr == SYS_chown || nr == SYS_lchown) return {{cwd, at(0), Intent::kWrite, "chown"}};
  return {};
}

class Guard {
 public:
  Guard(int listener, const GuardConfig& c)
      : listener_(listener), c_(c), log_(c.spec_dir, c.audit_log, c.workspace) {}

  Status Init() {
    view_.reset(open(c_.view.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!view_) return ErrnoStatus("opening " + c_.view, errno);
    log_.Reset();
    return Status::Ok();
  }

  void Serve() {
    seccomp_notif* req = nullptr;
    seccomp_notif_resp* resp = nullptr;
    if (seccomp_notify_alloc(&req, &resp) != 0) return;
    std::unique_ptr<seccomp_notif, void (*)(seccomp_notif*)> hold(
        req, [](seccomp_notif* r) { seccomp_notify_free(r, nullptr); });
    std::unique_ptr<seccomp_notif_resp, void (*)(seccomp_notif_resp*)> hold_resp(
        resp, [](seccomp_notif_resp* r) { seccomp_notify_free(nullptr, r); });
    // Wake virtiofsd's thread on this CPU when the answer goes (Linux 6.6;
    // older kernels refuse the flag, and the answer is only slower).
    constexpr unsigned long kSetFlags = SECCOMP_IOW(4, uint64_t);  // SECCOMP_IOCTL_NOTIF_SET_FLAGS
    constexpr uint64_t kSyncWakeUp = 1;  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
    (void)ioctl(listener_, kSetFlags, kSyncWakeUp);
    for (;;) {
      // Blocks until a call waits. It ends with the processes filtered: the
      // guard is killed with its parent (PR_SET_PDEATHSIG), virtiofsd's.
      std::memset(req, 0, sizeof *req);  // the kernel wants it zeroed
      if (seccomp_notify_receive(listener_, req) != 0) {
        if (errno == EINTR || errno == ENOENT) continue;  // the caller went away
        return;
      }
      const int err = Decide(*req);
      resp->id = req->id;
      resp->val = 0;
      resp->error = err ? -err : 0;
      resp->flags = err ? 0 : SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      seccomp_notify_respond(listener_, resp);  // ENOENT: the caller went away meanwhile
    }
  }

 private:
  // 0 to let the call run, else the errno the caller gets.
  int Decide(const seccomp_notif& req) {
    const auto targets = TargetsOf(req.data);
    if (targets.empty()) return EACCES;
    std::vector<std::optional<std::string>> rels;
    for (const auto& t : targets) {
      rels.push_back(Place(req, t));
      // Read from the caller's memory: only good while the call still waits.
      if (seccomp_notify_id_valid(listener_, req.id) != 0) return EACCES;
    }
    if (const char* why = MovesAcrossNodeModules(req, rels)) {
      log_.Refused(targets[0].op, PrintableExact(rels.back().value_or("")), why);
      return EACCES;
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      const Target& t = targets[i];
      if (!rels[i]) {
        log_.Refused(t.op, "(unknown)", "a path the guard could not place in the share");
        return EACCES;
      }
      if (*rels[i] == kOutside) continue;
      const std::string& rel = *rels[i];
      if (rel.size() > kMaxSharePath && t.intent != Intent::kWrite && t.intent != Intent::kRemove) {
        log_.Refused(t.op, PrintableExact(rel.substr(0, 256)) + "...",
                     "a path longer than " + std::to_string(kMaxSharePath) + " bytes");
        return EACCES;
      }
      std::string rule = ProtectedPrefix(rel, c_.rules);
      const bool brings = t.intent == Intent::kAppear || t.intent == Intent::kRemove;
      if (rule.empty() && brings && LeadsToProtected(rel, c_.rules)) rule = rel;
      // The shared folder's own owner: the host's git refuses a repository
      // whose top another user owns, and its user could not take it back.
      if (rule.empty() && rel.empty() && std::string(t.op) == "chown") rule = ".";
      if (rule.empty() && (t.intent == Intent::kWrite || t.intent == Intent::kCreate) &&
          HasOtherLinks(rel)) {
        // Another name of the same file may be protected, or outside the
        // share (a pnpm or uv store's copy): the write would reach it.
        log_.Refused(t.op, PrintableExact(rel),
                     "a file with other hard links: the write would reach its other names");
        return EACCES;
      }
      if (!rule.empty()) {
        log_.Refused(t.op, PrintableExact(rel), GuardLog::ProtectedReason(PrintableExact(rule)));
        return EACCES;
      }
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      if (targets[i].intent != Intent::kRemove && *rels[i] != kOutside && IsHostRunFile(*rels[i])) {
        log_.Changed(ChangeOf(targets[i], *rels[i]), PrintableExact(*rels[i]));
      }
    }
    return 0;
  }

  // Tools' config is protected outside node_modules only: a folder moved in
  // whole, changed there and moved back would carry guest-written config
  // out; a symlink from outside into it would show it there. Returns why
  // the call is refused, or nullptr.
  const char* MovesAcrossNodeModules(const seccomp_notif& req,
                                     const std::vector<std::optional<std::string>>& rels) {
    const long nr = req.data.nr;
    const bool rename = nr == SYS_renameat || nr == SYS_renameat2 || nr == SYS_rename;
    const bool symlink = nr == SYS_symlinkat || nr == SYS_symlink;
    if (!rename && !symlink) return nullptr;
    for (const auto& r : rels) {
      if (!r || *r == kOutside) return nullptr;  // refused or let through below
    }
    if (rename) {
      // Either side may be a folder that moves (RENAME_EXCHANGE moves both).
      auto is_dir = [&](const std::string& rel) {
        struct stat st;
        return fstatat(view_.get(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
      };
      if (UnderNodeModules(*rels[0]) != UnderNodeModules(*rels[1]) &&
          (is_dir(*rels[0]) || is_dir(*rels[1]))) {
        return "a folder moved into or out of node_modules (where tools' config is not protected)";
      }
      return nullptr;
    }
    if (UnderNodeModules(*rels[0])) return nullptr;
    auto target = ReadString(req.pid, req.data.args[0]);
    if (!target || seccomp_notify_id_valid(listener_, req.id) != 0 || UnderNodeModules(*target)) {
      return "a symlink from outside node_modules into it (where tools' config is not protected)";
    }
    return nullptr;
  }

  // A regular file with more than one name.
  bool HasOtherLinks(const std::string& rel) {
    struct stat st;
    const bool found = rel.empty()
                           ? fstat(view_.get(), &st) == 0
                           : fstatat(view_.get(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    return found && S_ISREG(st.st_mode) && st.st_nlink > 1;
  }

  const char* ChangeOf(const Target& t, const std::string& rel) {
    if (t.intent == Intent::kWrite && std::string(t.op) == "chmod") return "chmod";
    struct stat st;
    const bool exists = fstatat(view_.get(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    return exists && t.intent != Intent::kAppear ? "modified" : "created";
  }

  // Where a call's path lies: the path relative to the share's top,
  // kOutside for an object that is not in the share at all (virtiofsd's own
  // setup), nullopt when it cannot be placed.
  static constexpr const char* kOutside = "\x01outside";

  std::optional<std::string> Place(const seccomp_notif& req, const Target& t) {
    const std::string proc = "/proc/" + std::to_string(req.pid);
    std::string name;
    if (t.path_ptr != 0) {
      auto read = ReadString(req.pid, t.path_ptr);
      if (!read) return std::nullopt;
      name = *read;
    }
    std::string base_path =
        proc + (t.dirfd == AT_FDCWD ? "/cwd" : "/fd/" + std::to_string(t.dirfd));
    if (!name.empty() && name[0] == '/') {
      base_path = proc + "/root";
      name.erase(0, name.find_first_not_of('/'));
    }
    unique_fd base(open(base_path.c_str(), O_PATH | O_CLOEXEC));
    if (!base) return std::nullopt;
    // virtiofsd reaches existing files as /proc/self/fd/N: the object is
    // its fd N. Anything else under /proc is virtiofsd's own (its SELinux
    // fscreate probe), not the share's.
    struct statfs fs;
    if (fstatfs(base.get(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC) {
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
        return kOutside;
      unique_fd object(
          open((proc + "/fd/" + name).c_str(), O_PATH | O_CLOEXEC));  // the object, not the link
      if (!object) return std::nullopt;
      return RelativePathOf(object.get());
    }
    auto dir = RelativePathOf(base.get());
    if (!dir || *dir == kOutside || name.empty()) return dir;
    std::string rel = *dir;
    for (auto part : PathComponents(name)) {
      if (part == ".") continue;
      if (part == "..") return std::nullopt;  // virtiofsd never asks this; refuse rather than guess
      rel += (rel.empty() ? "" : "/") + std::string(part);
    }
    return rel;
  }

  // The object's path relative to the view, as the kernel names it and
  // checked by walking that path again beneath the view to the same inode.
  std::optional<std::string> RelativePathOf(int fd) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      struct stat want;
      if (fstat(fd, &want) != 0) return std::nullopt;
      char buf[PATH_MAX + 1];
      ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, PATH_MAX);
      if (n <= 0 || n >= PATH_MAX) return std::nullopt;
      std::string link(buf, static_cast<size_t>(n));
      if (link[0] != '/') return kOutside;  // a pipe, a socket, an anonymous inode
      if (want.st_nlink == 0 && !S_ISDIR(want.st_mode))
        return kOutside;  // unlinked: nowhere on the host
      // The kernel names it from the root of virtiofsd's namespace, the view.
      std::string rel = link.substr(link.find_first_not_of('/') == std::string::npos
                                        ? link.size()
                                        : link.find_first_not_of('/'));
      if (rel.empty()) {
        struct stat top;
        if (fstat(view_.get(), &top) == 0 && top.st_dev == want.st_dev && top.st_ino == want.st_ino)
          return rel;
      } else {
        unique_fd again = OpenBeneath(view_.get(), rel, O_PATH | O_NOFOLLOW);
        struct stat got;
        if (again && fstat(again.get(), &got) == 0 && got.st_dev == want.st_dev &&
            got.st_ino == want.st_ino) {
          return rel;
        }
      }
    }
    return std::nullopt;
  }

  // A NUL-terminated string of at most PATH_MAX bytes from the caller.
  static std::optional<std::string> ReadString(pid_t pid, uint64_t addr) {
    std::string out;
    char buf[4096];
    while (out.size() <= PATH_MAX) {
      // Up to the page's end: the next page may not be mapped.
      iovec local{buf, 4096 - (addr % 4096)};
      iovec remote{reinterpret_cast<void*>(addr), local.iov_len};
      ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
      if (n <= 0) return std::nullopt;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == '\0') return out.append(buf, static_cast<size_t>(i));
      }
      out.append(buf, static_cast<size_t>(n));
      addr += static_cast<uint64_t>(n);
    }
    return std::nullopt;
  }

  int listener_;
  const GuardConfig& c_;
  GuardLog log_;
  unique_fd view_;
};

}  // namespace

Result<unique_fd> InstallGuardFilter() {
  std::unique_ptr<void, CtxFree> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Status(Code::kInternal, "seccomp_init failed");
  int rc = 0;
  auto notify = [&](int nr) { rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_NOTIFY, nr, 0); };
  auto notify_writes = [&](int nr, unsigned flags_arg) {
    for (scmp_datum_t bit : {O_CREAT, O_WRONLY, O_RDWR, O_TRUNC}) {
      rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_NOTIFY, nr, 1,
                             SCMP_CMP(flags_arg, SCMP_CMP_MASKED_EQ, bit, bit));
    }
  };
  notify_writes(SCMP_SYS(openat), 2);
  notify_writes(SCMP_SYS(open), 1);
  for (int nr : {SCMP_SYS(creat),    SCMP_SYS(mkdirat),   SCMP_SYS(mkdir),     SCMP_SYS(mknodat),
                 SCMP_SYS(mknod),    SCMP_SYS(symlinkat), SCMP_SYS(symlink),   SCMP_SYS(linkat),
                 SCMP_SYS(link),     SCMP_SYS(renameat),  SCMP_SYS(renameat2), SCMP_SYS(rename),
                 SCMP_SYS(unlinkat), SCMP_SYS(unlink),    SCMP_SYS(rmdir),     SCMP_SYS(fchmodat),
                 SCMP_SYS(chmod),    SCMP_SYS(fchmod),    SCMP_SYS(truncate),  SCMP_SYS(fchownat),
                 SCMP_SYS(fchown),   SCMP_SYS(chown),     SCMP_SYS(lchown)}) {
    notify(nr);
  }
  // Opening by handle names no path the guard could check.
  rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(open_by_handle_at), 0);
  if (rc != 0) return Status(Code::kInternal, "building the guard's seccomp filter failed");
  if (seccomp_load(ctx.get()) != 0)
    return Status(Code::kInternal, "loading the guard's seccomp filter failed");
  unique_fd listener(seccomp_notify_fd(ctx.get()));
  if (!listener) return Status(Code::kInternal, "the guard's seccomp filter has no listener");
  return listener;
}

void RunGuard(unique_fd listener, const GuardConfig& c) {
  Guard g(listener.get(), c);
  if (Status s = g.Init(); !s.ok()) {
    std::fprintf(stderr, "workspace-virtiofsd: guard: %s\n", s.message().c_str());
    return;
  }
  g.Serve();
}

}  // namespace ws::shares
