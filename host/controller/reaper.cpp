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

[[noreturn]] void ReapUntilDaemonExits(pid_t daemon) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  prctl(PR_SET_NAME, "workspace-reap");
  for (;;) {
    // Reap first: a SIGCHLD that came before the mask above is not queued.
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != daemon) continue;
      std::fflush(nullptr);
      _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    if (pid < 0 && errno == ECHILD) _exit(1);  // cannot happen: the daemon is a child until reaped
    siginfo_t info;
    int sig = sigwaitinfo(&set, &info);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) kill(daemon, sig);
  }
}

}  // namespace

void RunUnderReaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::fprintf(stderr, "workspace daemon: cannot become a subreaper (%s); stops may be slow\n",
                 std::strerror(errno));
    return;  // run without a reaper: slower, not wrong
  }
  const pid_t reaper = getpid();
  const pid_t daemon = fork();
  if (daemon < 0) {
    std::fprintf(stderr, "workspace daemon: fork: %s; running without a reaper\n", std::strerror(errno));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    return;
  }
  if (daemon > 0) ReapUntilDaemonExits(daemon);
  // The daemon (a subreaper's children are not subreapers: orphans of the
  // daemon's own children go up to the reaper too).
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != reaper) raise(SIGTERM);  // the reaper died before PDEATHSIG was set
}

}  // namespace ws::controller
