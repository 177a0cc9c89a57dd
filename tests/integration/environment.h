// The integration suite's shared world: one private state dir (and so one
// daemon and one embedded libvirt root) per test binary, a throwaway HOME,
// and a `workspace` CLI runner bound to them. Nothing touches the real ~ or
// /var/lib/workspace.
#pragma once

#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ws::test {

class World {
 public:
  static World& Get();
  void SetUp();
  void TearDown();

  const std::string& state_dir() const { return state_dir_; }
  // The registry endpoints' configuration file of the test daemon (absent
  // until a test writes it: then the public npm registry, never reached).
  std::string registry_config() const { return state_dir_ + "/registries.toml"; }
  // The daemon's own config (its policy for members), absent until written.
  std::string daemon_config() const { return state_dir_ + "/daemon.toml"; }
  const std::string& home() const { return home_; }
  const std::string& project() const { return project_; }
  std::string bin() const { return std::string(WS_BIN_DIR) + "/workspace"; }

  // Runs `workspace ARGS...` against this world's state dir, as root, in a
  // project folder under HOME unless opts.cwd says otherwise.
  RunResult Cli(const std::vector<std::string>& args, RunOptions opts = {}) const;
  // The same as another user (setpriv; supplementary groups from /etc/group).
  RunResult CliAs(const std::string& user, const std::vector<std::string>& args,
                  RunOptions opts = {}) const;
  // A fresh empty folder under the test HOME.
  std::string NewFolder(const std::string& name) const;

 private:
  std::string state_dir_, home_, project_;
};

// Field `key` of the JSON object whose "name" is `name` in `json` ("" if absent).
std::string JsonField(const std::string& json, const std::string& name, const std::string& key);
// pid of the daemon serving a state dir (from its lock file), or -1.
int DaemonPid(const std::string& state_dir);
// Stops that daemon and waits for it to exit.
void StopDaemon(const std::string& state_dir);

// A system user for tests as another caller, in the `workspace` group or not.
void EnsureUser(const std::string& user, bool in_group);
// Destroys every workspace of a state dir, stops its daemon, removes the dir.
void CleanUpStateDir(const std::string& state_dir, const World& w);
// Where every daemon's tripwire alerts of this run are kept (KeepTripwires).
std::string TripwireLog();

}  // namespace ws::test
