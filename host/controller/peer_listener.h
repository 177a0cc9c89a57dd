// PeerListener: accepts connections on the daemon's unix socket itself, so
// each one's SO_PEERCRED can be recorded before the connection is handed to
// the gRPC server. gRPC names such a connection's peer "fd:N"; CallerOf maps
// that back to the credentials. Thread-safe.
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "host/controller/caller.h"

namespace grpc {
class Server;
}

namespace ws::controller {

class PeerListener {
 public:
  // Binds `path` (replacing a stale socket), mode 0660 with group `group_gid`
  // when >= 0, else 0600.
  static Result<std::unique_ptr<PeerListener>> Listen(const std::string& path, int group_gid);
  ~PeerListener();

  // Starts accepting on a thread; every connection goes to `server`.
  void Serve(grpc::Server* server);
  std::optional<Caller> CallerOf(const std::string& peer) const;

 private:
  explicit PeerListener(unique_fd fd) : fd_(std::move(fd)) {}
  void Loop(grpc::Server* server);

  unique_fd fd_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<int, Caller> callers_;  // guarded by mu_: by the fd gRPC owns
};

}  // namespace ws::controller
