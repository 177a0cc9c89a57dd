// EgressProxy: the guest's only way out. An HTTP proxy on 127.0.0.1:3128
// (CONNECT for TLS and any TCP; absolute-URI requests for plain http) that
// decides nothing: it holds each connection, announces it to the host
// (WatchEgress), and acts on the host's verdict (Tunnel) — relaying bytes
// over the agent channel, or answering 403 with the host's reason.
// On 127.0.0.1:3129 it takes connections to the host's package registry
// endpoints (http://127.0.0.1:3129/npm/): announced as method REGISTRY and
// relayed as they are, the host serving them.
// Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "workspace/v1/agent.grpc.pb.h"

namespace ws::agent {

inline constexpr uint16_t kProxyPort = 3128;
inline constexpr uint16_t kRegistryPort = 3129;

// Sets pid, command (cmdline, at most 512 bytes) and exec_id (its
// workspace-exec cgroup) of `req` from /proc.
void DescribeProcess(int pid, workspace::v1::EgressRequest* req);

class EgressProxy {
 public:
  static EgressProxy& Instance();
  // Listens on 127.0.0.1:kProxyPort and :kRegistryPort and serves clients
  // on background threads.
  Status Start();
  bool running() const { return running_; }

  grpc::Status Watch(grpc::ServerContext* ctx,
                     grpc::ServerWriter<workspace::v1::EgressRequest>* out);
  grpc::Status Tunnel(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<workspace::v1::TunnelMessage, workspace::v1::TunnelMessage>* s);
  // A report for the host on the same stream, answered by nothing (a
  // decoy file opened: method FILE-READ). Dropped when no host watches or
  // 256 wait already.
  void Report(workspace::v1::EgressRequest req);

 private:
  struct Pending {
    unique_fd client;
    bool connect = false;     // CONNECT: answer 200, then raw bytes
    std::string first_bytes;  // plain http: the request, rewritten to origin form
    std::string exec_id;      // the exec that asked, for its stderr
    std::string target;       // host:port, for messages
    bool claimed = false;
  };
  void AcceptLoop(int listener, bool registry);
  void Serve(unique_fd client);
  // Holds the client until the host's Tunnel claims it (or answers for it).
  void Announce(workspace::v1::EgressRequest req, std::shared_ptr<Pending> p, uint16_t local_port);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<workspace::v1::EgressRequest> announce_;     // guarded by mu_
  std::map<uint64_t, std::shared_ptr<Pending>> pending_;  // guarded by mu_
  int watchers_ = 0;                                      // guarded by mu_
  uint64_t next_id_ = 0;                                  // guarded by mu_
  bool running_ = false;
};

}  // namespace ws::agent
