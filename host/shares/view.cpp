#include "host/shares/view.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/common/open_beneath.h"
#include "host/common/printable.h"
#include "host/common/unique_fd.h"
#include "host/shares/secrets.h"
#include "host/shares/share_check.h"
#include "host/shares/share_spec.h"

namespace ws::shares {
namespace {

int OpenTree(int dfd, const char* path, unsigned flags) {
  return static_cast<int>(syscall(SYS_open_tree, dfd, path, flags));
}
int MoveMount(int from_dfd, const char* from, int to_dfd, const char* to, unsigned flags) {
  return static_cast<int>(syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags));
}
int MountSetattr(int dfd, const char* path, unsigned flags, mount_attr* attr) {
  return static_cast<int>(syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr));
}

Status WriteFile(const std::string& path, const std::string& text) {
  unique_fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || !WriteAll(fd.get(), text.data(), text.size()))
    return ErrnoStatus("writing " + path, errno);
  return Status::Ok();
}

// A user namespace whose maps give the idmapped mount its meaning. For an
// idmapped mount an on-disk id is read as an id *inside* the namespace and
// shown as the outside id it maps to: so "OWNER 1000" shows the owner's files
// as uid 1000 (and stores uid 1000's creates as OWNER), "GUESTROOT 0" the same
// for root; every other id is unmapped (overflow id, creates refused).
Result<unique_fd> IdmapUserns(const ShareConfig& c) {
  int ready[2], hold[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(hold, O_CLOEXEC) != 0)
    return ErrnoStatus("pipe", errno);
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    close(ready[0]);
    close(hold[1]);  // or our own write end would keep the read below from ever ending
    char b = unshare(CLONE_NEWUSER) == 0 ? 'k' : 'e';
    (void)!write(ready[1], &b, 1);
    (void)!read(hold[0], &b, 1);  // until the parent has what it needs
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);
  unique_fd release(hold[1]);
  char b = 0;
  Status s;
  if (read(ready[0], &b, 1) != 1 || b != 'k')
    s = Status(Code::kInternal, "cannot create a user namespace");
  close(ready[0]);
  unique_fd ns;
  if (s.ok()) {
    std::string proc = "/proc/" + std::to_string(pid);
    std::ostringstream uid_map, gid_map;
    uid_map << c.owner_uid << " " << kGuestUserId << " 1\n";
    gid_map << c.owner_gid << " " << kGuestUserId << " 1\n";
    if (!c.read_only) {  // read-only: nothing is created, guest root owns nothing
      uid_map << c.root_uid << " 0 1\n";
      gid_map << c.root_gid << " 0 1\n";
    }
    s = WriteFile(proc + "/uid_map", uid_map.str());
    if (s.ok()) s = WriteFile(proc + "/gid_map", gid_map.str());
    if (s.ok()) {
      ns.reset(open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns) s = ErrnoStatus("opening the user namespace", errno);
    }
  }
  release.reset();
  waitpid(pid, nullptr, 0);
  if (!s.ok()) return s;
  return ns;
}

// Clones the tree at `source` (relative to `dfd`; "" for dfd itself),
// applies `attr` to all of it, mounts it on `target`.
Status BindWith(int dfd, const std::string& source, const std::string& target, mount_attr attr) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW;
  if (source.empty()) flags |= AT_EMPTY_PATH;
  unique_fd tree(OpenTree(dfd, source.c_str(), flags));
  if (!tree) return ErrnoStatus("open_tree " + source, errno);
  if (MountSetattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) != 0) {
    if (errno == EINVAL && (attr.attr_set & MOUNT_ATTR_IDMAP)) {
      return {Code::kFailedPrecondition,
              "its filesystem does not support idmapped mounts, which a read-write share and a "
              "member's "
              "read-only share need"};
    }
    return ErrnoStatus("mount_setattr " + source, errno);
  }
  if (MoveMount(tree.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return ErrnoStatus("move_mount onto " + target, errno);
  }
  return Status::Ok();
}

mount_attr ReadOnly() {
  mount_attr a{};
  a.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  return a;
}

// A root-owned read-only file holding `text`, to bind over a secret.
Status WriteMask(const std::string& path, const std::string& text) {
  unlink(path.c_str());
  unique_fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444));
  if (!fd || !WriteAll(fd.get(), text.data(), text.size()))
    return ErrnoStatus("writing " + path, errno);
  return Status::Ok();
}

// Binds `source` over `rel` beneath the view `top`, reached without a
// symlink (a folder swapped for one meanwhile is refused, not followed).
Status BindOver(const std::string& source, int top, const std::string& rel) {
  unique_fd target = OpenBeneath(top, rel, O_PATH | O_NOFOLLOW);
  if (!target) return ErrnoStatus("covering " + rel, errno);
  unique_fd tree(OpenTree(AT_FDCWD, source.c_str(),
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW));
  if (!tree) return ErrnoStatus("open_tree " + source, errno);
  mount_attr attr = ReadOnly();
  if (MountSetattr(tree.get(), "", AT_EMPTY_PATH, &attr) != 0)
    return ErrnoStatus("mount_setattr " + source, errno);
  if (MoveMount(tree.get(), "", target.get(), "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
    return ErrnoStatus("covering " + rel, errno);
  }
  return Status::Ok();
}

// Covers what ScanSecrets finds in the view: an empty file or folder, or a
// copy without credentials.
Status MaskSecrets(const ShareConfig& c, const std::string& spec_dir, const std::string& view,
                   ViewReport* report) {
  const std::string empty = spec_dir + "/empty", empty_dir = spec_dir + "/empty.d",
                    masks = spec_dir + "/masks";
  if (Status s = WriteMask(empty, ""); !s.ok()) return s;
  mkdir(empty_dir.c_str(), 0555);
  std::error_code ec;
  std::filesystem::remove_all(masks, ec);
  if (mkdir(masks.c_str(), 0700) != 0) return ErrnoStatus("creating " + masks, errno);
  unique_fd top(open(view.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!top) return ErrnoStatus("opening " + view, errno);
  const auto t0 = std::chrono::steady_clock::now();
  auto scan = ScanSecrets(top.get(), c.host_path, c.shown);
  report->scan_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  report->scan_entries = scan.entries;
  report->scan_cut = scan.cut;
  if (!scan.refusal.empty()) return {Code::kFailedPrecondition, scan.refusal};
  int n = 0;
  for (const auto& f : scan.found) {
    std::string source = f.directory ? empty_dir : empty;
    if (f.action == SecretAction::kStrip) {
      source = masks + "/" + std::to_string(n++);
      if (Status s = WriteMask(source, f.stripped); !s.ok()) return s;
    }
    if (Status s = BindOver(source, top.get(), f.path); !s.ok()) return s;
    (f.action == SecretAction::kStrip ? report->stripped : report->hidden).push_back(f.path);
  }
  return Status::Ok();
}

}  // namespace

void WriteViewReport(const std::string& spec_dir, const ViewReport& r) {
  std::string text;
  for (const auto& p : r.hidden) text += "hidden " + Printable(p) + "\n";
  for (const auto& p : r.stripped) text += "stripped " + Printable(p) + "\n";
  if (r.scan_cut) text += "cut\n";
  const std::string path = spec_dir + "/" + kViewReportFile;
  WriteMask(path + ".tmp", text);
  rename((path + ".tmp").c_str(), path.c_str());
}

ViewReport ReadViewReport(const std::string& spec_dir) {
  ViewReport r;
  std::ifstream in(spec_dir + "/" + kViewReportFile);
  std::string line;
  for (int lines = 0; lines < 100000 && std::getline(in, line); ++lines) {
    if (line.rfind("hidden ", 0) == 0) r.hidden.push_back(line.substr(7));
    if (line.rfind("stripped ", 0) == 0) r.stripped.push_back(line.substr(9));
    if (line == "cut") r.scan_cut = true;
  }
  return r;
}

std::vector<std::string> GitHooksFolders(const std::string& host_path,
                                         const std::string& read_from) {
  std::vector<std::string> out;
  struct stat st;
  const std::string git = (read_from.empty() ? host_path : read_from) + "/.git";
  if (lstat(git.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return out;
  // core.hooksPath (a folder the guest could fill) and include.path /
  // includeIf.*.path (a file git would read as config), in any case (git's
  // keys are case-insensitive), pointing into the worktree.
  std::ifstream config(git + "/config");
  std::string line, section;
  while (std::getline(config, line)) {
    std::string lower = line;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const size_t first = lower.find_first_not_of(" \t");
    if (first != std::string::npos && lower[first] == '[') section = lower.substr(first);
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = lower.substr(0, eq);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    const bool hooks = key == "hookspath";
    const bool include = key == "path" && (section.rfind("[include]", 0) == 0 ||
                                           section.rfind("[includeif", 0) == 0);
    if (!hooks && !include) continue;
    std::string v = line.substr(eq + 1);
    v.erase(0, v.find_first_not_of(" \t\""));
    v.erase(v.find_last_not_of(" \t\"\r") + 1);
    // A relative hooksPath is from the worktree's top; an include's from
    // the config file's folder (.git).
    const std::string from = hooks ? host_path : host_path + "/.git";
    std::string abs = NormalizeAbsolute(v.empty() || v[0] != '/' ? from + "/" + v : v);
    if (PathWithin(abs, host_path) && abs != host_path)
      out.push_back(abs.substr(host_path.size() + 1));
  }
  return out;
}

std::vector<std::string> GitPathsToProtect(const std::string& host_path) {
  std::vector<std::string> out;
  struct stat st;
  if (lstat((host_path + "/.workspace.toml").c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    out.push_back(".workspace.toml");
  }
  const std::string git = host_path + "/.git";
  if (lstat(git.c_str(), &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) return out;
  out.push_back(".git");
  for (const auto& rel : GitHooksFolders(host_path)) {
    if (stat((host_path + "/" + rel).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(rel);
  }
  return out;
}

std::vector<std::string> ProtectedPaths(const ProtectionRules& rules) {
  std::vector<std::string> out;
  auto add = [&](const std::string& p) {
    if (!ProtectedPrefix(p, rules).empty() && std::find(out.begin(), out.end(), p) == out.end())
      out.push_back(p);
  };
  for (const auto& p : ToolConfigPaths()) add(p);
  for (const auto& p : rules.extra) add(p);
  return out;
}

Result<ViewReport> BuildView(const ShareConfig& c, const std::string& spec_dir) {
  if (unshare(CLONE_NEWNS) != 0) return ErrnoStatus("unshare(CLONE_NEWNS)", errno);
  // Private: nothing we mount propagates to the host, nothing the host
  // unmounts reaches the view.
  if (syscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return ErrnoStatus("making mounts private", errno);
  }
  const std::string view = spec_dir + "/" + kViewDir;
  mkdir(view.c_str(), 0755);
  // The directory create recorded, reached without a symlink: a path whose
  // part was swapped since (for a symlink to somewhere else) is refused.
  auto opened = OpenDirectoryNoSymlinks(c.host_path);
  if (!opened.ok()) return Status(Code::kFailedPrecondition, opened.status().message());
  unique_fd dir = std::move(opened.value());
  struct stat st;
  if (fstat(dir.get(), &st) != 0) return ErrnoStatus("stat " + c.host_path, errno);
  if (c.ino != 0 && (st.st_dev != c.dev || st.st_ino != c.ino)) {
    return Status(Code::kFailedPrecondition,
                  c.host_path + " is no longer the directory that was shared");
  }
  ViewReport report;
  if (c.read_only && !c.owner_rights) {
    if (Status s = BindWith(dir.get(), "", view, ReadOnly()); !s.ok()) return s;
  } else {
    // virtiofsd runs as root; the kernel lets root's capabilities override a
    // file's mode only when its owner and group are mapped into the mount:
    // the owner's (and, read-write, guest root's). Every other file is
    // reached with its "other" bits, as by a stranger.
    auto userns = IdmapUserns(c);
    if (!userns.ok()) return userns.status();
    mount_attr a{};
    a.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                 (c.read_only ? MOUNT_ATTR_RDONLY : 0);
    a.userns_fd = static_cast<uint64_t>(userns->get());
    if (Status s = BindWith(dir.get(), "", view, a); !s.ok()) return s;
    // Bound from the view, so they stay idmapped; read-only on top.
    if (!c.read_only) {
      const ProtectionRules rules{c.protect, c.writable};
      for (const auto& rel : GitPathsToProtect(c.host_path)) {
        if (ProtectedPrefix(rel, rules).empty()) continue;  // opened with --writable
        if (Status s = BindWith(AT_FDCWD, view + "/" + rel, view + "/" + rel, ReadOnly()); !s.ok())
          return s;
        report.protected_.push_back(rel);
      }
    }
  }
  if (Status s = MaskSecrets(c, spec_dir, view, &report); !s.ok()) return s;
  WriteViewReport(spec_dir, report);
  return report;
}

}  // namespace ws::shares
