// GrpcGuestAgent: the host's connection to one guest agent, over the unix
// socket libvirt binds for the VM's org.workspace.agent.0 channel. One
// connection per running guest; it is dead once the guest or QEMU goes away
// (an fd channel cannot reconnect) and the owner then opens a new one.
// Every reply is untrusted input. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"
#include "host/guest/bulk_stream.h"
#include "workspace/v1/agent.grpc.pb.h"

namespace ws::guest {

// A command the host itself runs in the guest to completion (image builds).
struct RunSpec {
  std::vector<std::string> argv;
  std::string user;  // empty: the image's default user
  std::chrono::seconds timeout{0};  // 0: none
  std::vector<std::string> env;  // "KEY=VALUE", added
  std::string cwd;               // empty: the agent's default
};

// How a command ended: its exit code, or 128+N when signal N killed it.
struct RunExit {
  int code = 0;
  bool timed_out = false;  // killed because RunSpec::timeout expired
};

struct AgentInfo {
  std::string agent_version;
  std::string kernel_release;
  std::string hostname;
  double uptime_seconds = 0;
};

class GrpcGuestAgent {
 public:
  // Connects and performs the version handshake. kUnavailable when the socket
  // is not there or the agent does not answer within `timeout`;
  // kFailedPrecondition on a protocol mismatch.
  static Result<std::shared_ptr<GrpcGuestAgent>> Connect(const std::string& socket_path,
                                                         std::chrono::milliseconds timeout);

  Result<AgentInfo> Info(std::chrono::milliseconds timeout);
  Status Shutdown(std::chrono::milliseconds timeout);
  // Runs a command with no stdin; each piece of its stdout and stderr goes
  // to on_output as it arrives (untrusted guest bytes). Stops the command
  // (the call is cancelled) once `cancelled` returns true; it is polled
  // about every second.
  Result<RunExit> Run(const RunSpec& spec, const std::function<void(std::string_view)>& on_output,
                      const std::function<bool()>& cancelled);
  // False once a call failed for want of a transport (guest gone, QEMU
  // restarted, agent restarted). gRPC cannot tell for fd channels, so every
  // caller reports what it saw.
  bool Alive() const { return !broken_; }
  void MarkBroken() { broken_ = true; }
  // Marks the connection broken when `s` says the transport is gone. The
  // agent never answers UNAVAILABLE or INTERNAL itself, so those are gRPC's.
  void Observe(const grpc::Status& s);

  // For the exec relay: the raw stub (messages pass through unchanged).
  workspace::v1::GuestAgent::Stub* stub() { return stub_.get(); }
  // The reader of the VM's bulk output port; null when the VM has none (it
  // was defined before the port existed) or its socket has closed.
  BulkReader* bulk() const;
  // Lets go of the bulk port, for the connection that replaces this one
  // (this object may live on while a call still holds it).
  void ReleaseBulk() {
    if (bulk_) bulk_->Shutdown();
  }

 private:
  GrpcGuestAgent(std::shared_ptr<grpc::Channel> channel);
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<workspace::v1::GuestAgent::Stub> stub_;
  std::atomic<bool> broken_{false};
  std::shared_ptr<BulkReader> bulk_;  // set once, by Connect
};

// Largest message the host accepts from a guest.
inline constexpr int kMaxAgentMessage = 8 << 20;

}  // namespace ws::guest
