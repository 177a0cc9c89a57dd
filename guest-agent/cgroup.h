// ExecCgroup: one cgroup (v2) per exec, so that everything a command starts
// — double-forked, setsid'd, daemonized — can be found and killed at once
// with cgroup.kill. Unavailable (Create returns null) without cgroup2, e.g.
// when the agent runs on a host for tests; callers then kill the process group.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "host/common/unique_fd.h"

namespace ws::agent {

class ExecCgroup {
 public:
  static std::unique_ptr<ExecCgroup> Create();
  ~ExecCgroup();  // kills what is left; the cgroup is kept for the next exec (or removed)

  // Open cgroup.procs: the spawned child writes "0" here before exec.
  int procs_fd() const { return procs_.get(); }
  // The cgroup's name under workspace-exec/ (what /proc/PID/cgroup shows).
  std::string id() const { return dir_.substr(dir_.rfind('/') + 1); }
  void Kill();
  // Waits until no process is left in the group (after Kill), at most `limit`.
  void WaitEmpty(std::chrono::milliseconds limit) const;

 private:
  explicit ExecCgroup(std::string dir, unique_fd procs)
      : dir_(std::move(dir)), procs_(std::move(procs)) {}

  std::string dir_;
  unique_fd procs_;
};

}  // namespace ws::agent
