// guard_rtt: what the share guard adds to each call it sees, on the host,
// without a VM: N creates (open O_CREAT|O_WRONLY + close) in a folder, by a
// child that has pivoted into it as virtiofsd does, with and without the
// guard's filter (and the guard answering in another process).
//   guard_rtt [N]    (as root; prints µs per create, both ways, medians of 5 rounds)
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "host/common/unix_socket.h"
#include "host/shares/guard.h"

namespace {

// In a child: a private mount namespace rooted at `dir` (as virtiofsd's
// sandbox), optionally the guard's filter, then `n` creates. Returns µs per create.
double Run(const std::string& dir, bool guarded, int n) {
  int sp[2];
  int result[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0 || pipe(result) != 0) std::exit(1);
  pid_t child = fork();
  if (child == 0) {
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        chdir(dir.c_str()) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0) {
      std::perror("sandbox");
      _exit(1);
    }
    if (guarded) {
      auto listener = ws::shares::InstallGuardFilter();
      if (!listener.ok() || !ws::SendFd(sp[0], listener->get()).ok()) _exit(1);
    }
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      int fd = openat(AT_FDCWD, ("/f" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC,
                      0644);
      if (fd < 0) _exit(2);
      close(fd);
    }
    double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        n;
    (void)!write(result[1], &us, sizeof us);
    _exit(0);
  }
  pid_t guard = -1;
  if (guarded) {
    auto fd = ws::RecvFd(sp[1]);
    if (!fd.ok()) std::exit(1);
    guard = fork();
    if (guard == 0) {
      ws::shares::GuardConfig c{dir, {}, dir + "-state", "", "bench"};
      ws::shares::RunGuard(std::move(fd.value()), c);
      _exit(0);
    }
  }
  double us = -1;
  (void)!read(result[0], &us, sizeof us);
  int status = 0;
  waitpid(child, &status, 0);
  if (guard > 0) kill(guard, SIGKILL);  // as its parent's death does in workspace-virtiofsd
  while (wait(nullptr) > 0) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? us : -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  char tmpl[] = "/dev/shm/guard-rtt-XXXXXX";  // tmpfs: the file system's own cost out of the way
  if (!mkdtemp(tmpl)) return 1;
  const std::string base = tmpl;
  // Rounds alternate, each in fresh folders; medians of 5.
  std::vector<double> plain, guarded;
  for (int round = 0; round < 5; ++round) {
    const std::string a = base + "/a" + std::to_string(round),
                      b = base + "/b" + std::to_string(round);
    for (const auto& d : {a, b, b + "-state"}) std::filesystem::create_directories(d);
    plain.push_back(Run(a, false, n));
    guarded.push_back(Run(b, true, n));
    if (plain.back() < 0 || guarded.back() < 0) {
      std::fprintf(stderr, "guard_rtt: a run failed (as root?)\n");
      return 1;
    }
  }
  std::filesystem::remove_all(base);
  std::sort(plain.begin(), plain.end());
  std::sort(guarded.begin(), guarded.end());
  std::printf(
      "%d creates, median of 5 rounds: %.2f us each without the guard, %.2f us with it (+%.2f "
      "us)\n",
      n, plain[2], guarded[2], guarded[2] - plain[2]);
  return 0;
}
