#include "guest-agent/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

namespace ws::agent {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string PathOf(const std::vector<std::string>& env) {
  for (const auto& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) return kv.substr(5);
  }
  return kDefaultPath;
}

Status CheckExecutable(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoStatus(path, errno);
  if (S_ISDIR(st.st_mode)) return {Code::kPermissionDenied, path + ": is a directory"};
  if (access(path.c_str(), X_OK) != 0) return ErrnoStatus(path, errno);
  return Status::Ok();
}

struct Fds {
  int in = -1, out = -1, err = -1;  // what becomes 0, 1, 2
  const char* tty_path = nullptr;   // open this instead (becomes the controlling tty)
};

// Everything the child needs, prepared before vfork: it may only make
// system calls, not allocate.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t ngroups;
  Fds fds;
  int cgroup_fd;
  int report_fd;             // CLOEXEC pipe: the child writes errno here if exec fails
  const int* reset_signals;  // dispositions the child puts back to default
  size_t nreset;
};

// The signals this process does not leave at their default (ignored
// SIGPIPE, any handler): the child resets just these before exec, not all
// 64 (each syscall costs ~10 us under TCG). Read once: the agent sets its
// dispositions at start and never after.
const std::vector<int>& NonDefaultSignals() {
  static const std::vector<int> sigs = [] {
    std::vector<int> v;
    for (int sig = 1; sig < NSIG; ++sig) {
      struct sigaction sa = {};
      if (sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler != SIG_DFL) v.push_back(sig);
    }
    return v;
  }();
  return sigs;
}

[[noreturn]] void ChildFail(const ChildPlan& p) {
  int err = errno;
  (void)!write(p.report_fd, &err, sizeof err);
  _exit(127);
}

// Runs in the vfork child. Async-signal-safe calls only.
[[noreturn]] __attribute__((noinline)) void RunChild(const ChildPlan& p) {
  if (setsid() < 0) ChildFail(p);
  if (p.fds.tty_path) {
    int t = open(p.fds.tty_path, O_RDWR);  // a session leader's first tty: the controlling one
    if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0) ChildFail(p);
    if (dup2(t, 0) < 0 || dup2(t, 1) < 0 || dup2(t, 2) < 0) ChildFail(p);
    if (t > 2) close(t);
  } else if (dup2(p.fds.in, 0) < 0 || dup2(p.fds.out, 1) < 0 || dup2(p.fds.err, 2) < 0) {
    ChildFail(p);
  }
  if (p.cgroup_fd >= 0 && write(p.cgroup_fd, "0", 1) != 1) ChildFail(p);
  if (setgroups(p.ngroups, p.groups) != 0 || setgid(p.gid) != 0 || setuid(p.uid) != 0) ChildFail(p);
  if (p.cwd[0] && chdir(p.cwd) != 0) ChildFail(p);
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (size_t i = 0; i < p.nreset; ++i) sigaction(p.reset_signals[i], &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(p.path, p.argv, p.envp);
  ChildFail(p);
}

Result<std::pair<unique_fd, unique_fd>> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  return std::pair{unique_fd(fds[0]), unique_fd(fds[1])};
}

}  // namespace

Result<std::string> ResolveCommand(const std::string& name, const std::vector<std::string>& env) {
  if (name.empty()) return Status(Code::kNotFound, "empty command");
  if (name.find('/') != std::string::npos) {
    Status s = CheckExecutable(name);
    if (!s.ok()) return s;
    return name;
  }
  std::string path = PathOf(env);
  Status first_denied;
  size_t start = 0;
  for (;;) {
    size_t end = path.find(':', start);
    std::string dir =
        path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    Status s = CheckExecutable(candidate);
    if (s.ok()) return candidate;
    if (s.code() != Code::kNotFound && first_denied.ok()) first_denied = s;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!first_denied.ok()) return first_denied;
  return Status(Code::kNotFound, name + ": command not found");
}

int ExitCodeForSpawnError(const Status& status) {
  return status.code() == Code::kNotFound ? 127 : 126;
}

Result<Child> Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.path.empty()) return Status(Code::kNotFound, "no command given");
  Child child;
  unique_fd in_r, out_w, err_w, devnull, master;
  char tty_name[64] = {};
  if (spec.tty) {
    master.reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master || grantpt(master.get()) != 0 || unlockpt(master.get()) != 0 ||
        ptsname_r(master.get(), tty_name, sizeof tty_name) != 0) {
      return ErrnoStatus("allocating a pseudo-terminal", errno);
    }
    winsize ws = {static_cast<unsigned short>(spec.window.rows),
                  static_cast<unsigned short>(spec.window.cols), 0, 0};
    ioctl(master.get(), TIOCSWINSZ, &ws);
  } else {
    auto err = MakePipe();
    if (!err.ok()) return ErrnoStatus("pipe", errno);
    if (spec.stdout_fd < 0) {
      auto out = MakePipe();
      if (!out.ok()) return ErrnoStatus("pipe", errno);
      // A 4 MiB stdout pipe: each read (and so each message to the host) can
      // carry a full message instead of the default pipe's 64 KiB (the agent
      // runs as root, so pipe-max-size does not cap it).
      fcntl(out->first.get(), F_SETPIPE_SZ, 4 << 20);
      child.stdout_fd = std::move(out->first);
      out_w = std::move(out->second);
    }
    child.stderr_fd = std::move(err->first);
    err_w = std::move(err->second);
    if (spec.pipe_stdin) {
      auto in = MakePipe();
      if (!in.ok()) return in.status();
      // As large as the host's messages (1 MiB), so one usually fits.
      fcntl(in->second.get(), F_SETPIPE_SZ, 1 << 20);
      in_r = std::move(in->first);
      child.stdin_fd = std::move(in->second);
    } else {
      devnull.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!devnull) return ErrnoStatus("/dev/null", errno);
    }
  }
  // The command's own pipes belong to its user, so that it can open them
  // again by name (/dev/stdout, /dev/stderr, /proc/self/fd/N), as it could
  // pipes it made itself (a pipe's inode is its creator's, mode 0600).
  for (int fd : {in_r.get(), out_w.get(), err_w.get()}) {
    if (fd >= 0) (void)!fchown(fd, spec.uid, spec.gid);
  }
  auto report = MakePipe();
  if (!report.ok()) return report.status();

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ChildPlan plan{spec.path.c_str(),
                 argv.data(),
                 envp.data(),
                 spec.cwd.c_str(),
                 spec.uid,
                 spec.gid,
                 spec.groups.data(),
                 spec.groups.size(),
                 Fds{spec.pipe_stdin ? in_r.get() : devnull.get(),
                     spec.stdout_fd >= 0 && !spec.tty ? spec.stdout_fd : out_w.get(), err_w.get(),
                     spec.tty ? tty_name : nullptr},
                 spec.cgroup_procs_fd,
                 report->second.get(),
                 NonDefaultSignals().data(),
                 NonDefaultSignals().size()};

  pid_t pid = vfork();
  if (pid == 0) RunChild(plan);
  if (pid < 0) return ErrnoStatus("vfork", errno);
  report->second.reset();
  int child_errno = 0;
  if (read(report->first.get(), &child_errno, sizeof child_errno) == sizeof child_errno) {
    // The child has exited with 127; the reaper collects it.
    Status s = ErrnoStatus(spec.argv[0], child_errno);
    return Status(child_errno == ENOENT ? Code::kNotFound : Code::kPermissionDenied, s.message());
  }
  child.pid = pid;
  if (spec.tty) {
    child.stdout_fd.reset(dup(master.get()));
    child.stdin_fd = std::move(master);
    if (!child.stdout_fd) return ErrnoStatus("dup", errno);
  }
  if (child.stdout_fd) SetNonBlocking(child.stdout_fd.get());
  if (child.stderr_fd) SetNonBlocking(child.stderr_fd.get());
  return child;
}

}  // namespace ws::agent
