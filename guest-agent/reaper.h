// Reaper: the one place that calls waitpid(-1). As PID 1 the agent inherits
// every orphan; exec sessions register the pids they spawned and get their
// exit status through a callback. Thread-safe.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

namespace ws::agent {

class Reaper {
 public:
  using ExitFn = std::function<void(int wait_status)>;

  // Starts the reaping thread (once per process).
  static Reaper& Instance();

  // Calls on_exit (on the reaper thread, or at once if pid already ended)
  // with pid's wait status. Register right after spawning.
  void Watch(pid_t pid, ExitFn on_exit);

 private:
  Reaper();
  void Loop();

  std::mutex mu_;
  std::condition_variable have_children_;
  std::map<pid_t, ExitFn> watched_;  // guarded by mu_
  std::map<pid_t, int> unclaimed_;   // guarded by mu_: exited before Watch()
  int pending_ = 0;                  // guarded by mu_: watches not yet reaped
};

}  // namespace ws::agent
