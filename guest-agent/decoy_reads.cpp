#include "guest-agent/decoy_reads.h"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "guest-agent/proxy.h"

namespace ws::agent {
namespace {

std::mutex mu;
int fan = -1;  // guarded by mu (set once)

void ReadEvents(int fd);

// Should the reading ever stop, the group is closed: the kernel then lets
// every open waiting on it go on (no decoy file stays blocked).
void ReadLoop(int fd) {
  ReadEvents(fd);
  std::lock_guard lock(mu);
  close(fd);
  fan = -1;
}

void ReadEvents(int fd) {
  // One report per process and file: a program that reads a file many
  // times is one event, and a flood of opens is bounded.
  std::set<std::pair<int, std::string>> told;
  alignas(fanotify_event_metadata) char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);  // FAN_EVENT_NEXT counts it down
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    for (auto* m = reinterpret_cast<fanotify_event_metadata*>(buf); FAN_EVENT_OK(m, n);
         m = FAN_EVENT_NEXT(m, n)) {
      if (m->vers != FANOTIFY_METADATA_VERSION) return;
      if (m->fd < 0) continue;
      char link[64], path[PATH_MAX] = {};
      snprintf(link, sizeof link, "/proc/self/fd/%d", m->fd);
      const ssize_t len = readlink(link, path, sizeof path - 1);
      // The opener waits (a permission event) until it is described: a
      // short-lived `cat` is still there to be named.
      const bool tell = len > 0 && m->pid != getpid() &&  // not the agent's own (planting, cp)
                        told.size() <= 4096 && told.insert({m->pid, std::string(path)}).second;
      if (tell) {
        workspace::v1::EgressRequest req;
        req.set_method("FILE-READ");
        req.set_host(path);
        DescribeProcess(m->pid, &req);
        EgressProxy::Instance().Report(std::move(req));
      }
      if (m->mask & FAN_OPEN_PERM) {
        fanotify_response allow{m->fd, FAN_ALLOW};
        (void)!write(fd, &allow, sizeof allow);
      }
      close(m->fd);
    }
  }
}

}  // namespace

void WatchDecoyReads(const std::vector<std::string>& paths) {
  std::lock_guard lock(mu);
  if (fan < 0) {
    fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (fan < 0) return;  // no fanotify in this kernel: nothing watched
    std::thread(ReadLoop, fan).detach();
  }
  for (const auto& p : paths) {
    // Permission events where the kernel has them, plain ones otherwise.
    if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_DONT_FOLLOW, FAN_OPEN_PERM, AT_FDCWD,
                      p.c_str()) != 0) {
      (void)fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_DONT_FOLLOW, FAN_OPEN, AT_FDCWD, p.c_str());
    }
  }
}

}  // namespace ws::agent
