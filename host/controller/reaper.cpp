#include "host/controller/reaper.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace ws::controller {
namespace {

// Exits the way the daemon did: with its code, or killed by its signal.
[[noreturn]] void ExitAs(int status) {
  std::fflush(nullptr);
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, nullptr);
    raise(sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

[[noreturn]] void ReapUntilDaemonExits(pid_t daemon, const sigset_t& set) {
  prctl(PR_SET_NAME, "workspace-reap");
  for (;;) {
    // Reap before waiting: SIGCHLDs are not queued, one may stand for many.
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == daemon) ExitAs(status);
    }
    if (pid < 0 && errno == ECHILD) _exit(1);  // cannot happen: the daemon is a child until reaped
    siginfo_t info;
    int sig = sigwaitinfo(&set, &info);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) kill(daemon, sig);
  }
}

}  // namespace

void RunUnderReaper() {
  // Inherited SIG_IGN would make the kernel reap children itself (and break
  // every waitpid of a specific child in the daemon too).
  signal(SIGCHLD, SIG_DFL);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::fprintf(stderr, "workspace daemon: cannot become a subreaper (%s); stops may be slow\n",
                 std::strerror(errno));
    return;  // run without a reaper: slower, not wrong
  }
  // Blocked before the fork: a stop signal that comes at once is neither
  // lost by the reaper nor fatal to the daemon before it waits for it.
  sigset_t set, old;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, &old);
  const pid_t reaper = getpid();
  const pid_t daemon = fork();
  if (daemon < 0) {
    std::fprintf(stderr, "workspace daemon: fork: %s; running without a reaper\n",
                 std::strerror(errno));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return;
  }
  if (daemon > 0) ReapUntilDaemonExits(daemon, set);
  // The daemon (a subreaper's children are not subreapers: orphans of the
  // daemon's own children go up to the reaper too). It keeps the stop
  // signals blocked for its sigwait() and takes SIGCHLD as before.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_UNBLOCK, &chld, nullptr);
  // Killed, not asked, when the reaper dies: a SIGKILL to the reaper (a
  // service manager's last resort) must not leave a daemon that holds the
  // lock. Killing the daemon loses no workspace.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != reaper) _exit(1);  // the reaper died before PDEATHSIG was set
}

}  // namespace ws::controller
