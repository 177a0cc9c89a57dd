#include "guest-agent/reaper.h"

#include <errno.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace ws::agent {

Reaper& Reaper::Instance() {
  static Reaper* reaper = new Reaper();  // lives as long as the process
  return *reaper;
}

Reaper::Reaper() {
  std::thread([this] { Loop(); }).detach();
}

void Reaper::Watch(pid_t pid, ExitFn on_exit) {
  std::unique_lock lock(mu_);
  auto it = unclaimed_.find(pid);
  if (it != unclaimed_.end()) {
    int status = it->second;
    unclaimed_.erase(it);
    lock.unlock();
    on_exit(status);
    return;
  }
  watched_[pid] = std::move(on_exit);
  ++pending_;
  have_children_.notify_one();
}

void Reaper::Loop() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      // ECHILD: nothing to reap. Sleep until a session spawns something;
      // the timeout also catches children spawned and not yet watched.
      std::unique_lock lock(mu_);
      have_children_.wait_for(lock, std::chrono::milliseconds(200),
                              [this] { return pending_ > 0; });
      continue;
    }
    ExitFn fn;
    {
      std::lock_guard lock(mu_);
      auto it = watched_.find(pid);
      if (it == watched_.end()) {
        // An orphan re-parented to PID 1, or a child not yet watched. Keep a
        // bounded record so a racing Watch() still gets its status.
        if (unclaimed_.size() > 4096) unclaimed_.erase(unclaimed_.begin());
        unclaimed_[pid] = status;
        continue;
      }
      fn = std::move(it->second);
      watched_.erase(it);
      --pending_;
    }
    fn(status);
  }
}

}  // namespace ws::agent
