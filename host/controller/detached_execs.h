// Detached execs (`workspace exec -d`): commands the daemon itself keeps
// running in a workspace, each in its own cgroup in the guest as any exec,
// with no CLI attached. The daemon holds the agent call open; the command
// lives until it exits, `workspace kill` ends it (the call is cancelled and
// the agent kills its cgroup), the workspace stops, or the daemon restarts.
// Its stdout and stderr go to a log on the host, bounded: past kLogCap the
// file is moved to ID.log.1 (replacing the one before) and a new one begun.
// Bounded per workspace: kMaxDetachedRunning at once, the last
// kMaxDetachedKept ended ones remembered; and kMaxDetachedPerOwner running
// per user in all. Workspaces are keyed by name and UUID, so one made anew
// under a name never sees what the one before ran. Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/guest/guest_agent.h"

namespace ws::controller {

inline constexpr size_t kDetachedLogCap = 1 << 20;
inline constexpr size_t kMaxDetachedRunning = 16;
inline constexpr size_t kMaxDetachedKept = 16;
inline constexpr size_t kMaxDetachedPerOwner = 64;

struct DetachedInfo {
  std::string id;
  std::vector<std::string> argv;
  std::string started_at;  // RFC 3339
  int64_t started_unix = 0;
  bool running = false;
  int exit_code = -1;   // once ended: the code, 128+N for signal N
  bool killed = false;  // ended by `workspace kill`
  std::string error;    // ended without an exit status (the guest went away)
};

class DetachedExecs {
 public:
  // Starts `spec` in the workspace (`workspace`: its name and UUID) through
  // `agent` for user `owner`; its log goes in `log_dir` (made here; its
  // parent must exist).
  Result<std::string> Start(const std::string& workspace, uint32_t owner,
                            std::shared_ptr<guest::GuestAgent> agent, guest::RunSpec spec,
                            const std::string& log_dir);
  std::vector<DetachedInfo> List(const std::string& workspace);
  // kNotFound for an unknown id; ok (nothing done) for one already ended.
  Status Kill(const std::string& workspace, const std::string& id);
  // The log file of an exec (ID.log; ID.log.1 holds what came before).
  Result<std::string> LogPath(const std::string& workspace, const std::string& id);
  bool Running(const std::string& workspace, const std::string& id);
  // The workspace is gone: ends its execs and forgets them.
  void Forget(const std::string& workspace);

 private:
  struct Entry {
    DetachedInfo info;
    uint32_t owner = 0;
    std::string log_path;
    std::atomic<bool> cancel{false};
  };
  // Shared with the threads running the execs, which may outlive this
  // object (the daemon ends with _exit, not with them).
  struct Shared {
    std::mutex mu;
    // workspace -> its execs, oldest first. Guarded by mu.
    std::map<std::string, std::vector<std::shared_ptr<Entry>>> execs;
  };
  // The exec `id` of `workspace`, or null; s_->mu held.
  std::shared_ptr<Entry> FindLocked(const std::string& workspace, const std::string& id);
  static void Run(std::shared_ptr<Shared> shared, std::shared_ptr<Entry> e,
                  std::shared_ptr<guest::GuestAgent> agent, guest::RunSpec spec);

  std::shared_ptr<Shared> s_ = std::make_shared<Shared>();
};

}  // namespace ws::controller
