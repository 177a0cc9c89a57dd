// Client: the CLI's connection to the daemon of a state dir. When no daemon
// answers and the CLI runs as root, it starts one (as `workspace daemon`,
// detached, logging to STATE/daemon.log) and waits for it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "host/common/status.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::cli {

struct GlobalOptions {
  std::string state_dir;    // from --state-dir / WORKSPACE_STATE_DIR / default
  std::string connect_uri;  // from --connect / WORKSPACE_CONNECT (for a daemon we start)
  std::string accel;        // from --accel / WORKSPACE_ACCEL (for a daemon we start)
};

Result<std::unique_ptr<workspace::v1::Controller::Stub>> ConnectDaemon(const GlobalOptions& g);

// `workspace daemon`: replaces this process with the daemon's own binary
// (workspace-daemon, next to this one). Returns an exit code only on failure.
// `extra`: more of the daemon's own options (--upstream-ca FILE).
int ExecDaemon(const GlobalOptions& g, const std::vector<std::string>& extra = {});

}  // namespace ws::cli
