// GrpcGuestAgent: the GuestAgent of one running guest, over the unix socket
// libvirt binds for the VM's org.workspace.agent.0 channel. The only host
// code that includes the agent's generated headers: everything the guest
// sends is turned into the project's types here, checked and cleaned. One
// connection per running guest; it is dead once the guest or QEMU goes away
// (an fd channel cannot reconnect) and the owner then opens a new one.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "host/guest/bulk_stream.h"
#include "host/guest/guest_agent.h"

namespace ws::guest {

class GrpcGuestAgent final : public GuestAgent,
                             public std::enable_shared_from_this<GrpcGuestAgent> {
 public:
  // Performs the version handshake over `agent_fd` (a connected,
  // non-blocking stream socket to the agent's channel), then opens the bulk
  // output port with `dial_bulk` (an error there: no bulk port).
  // kDeadlineExceeded when the agent does not answer within `timeout`;
  // kFailedPrecondition on a protocol mismatch.
  static Result<std::shared_ptr<GrpcGuestAgent>> Connect(
      unique_fd agent_fd, const std::function<Result<unique_fd>()>& dial_bulk,
      std::chrono::milliseconds timeout);
  ~GrpcGuestAgent() override;

  Result<AgentInfo> Info(std::chrono::milliseconds timeout) override;
  Status Shutdown(std::chrono::milliseconds timeout) override;
  Status Configure(const GuestSettings& settings, std::chrono::milliseconds timeout) override;
  Status Notify(const std::string& exec_id, const std::string& line,
                std::chrono::milliseconds timeout) override;
  Result<RunExit> Run(const RunSpec& spec, const std::function<void(std::string_view)>& on_output,
                      const std::function<bool()>& cancelled) override;
  std::unique_ptr<ExecCall> Exec(const ExecSpec& spec) override;
  std::unique_ptr<TreeSource> ReadTree(const std::string& guest_path) override;
  std::unique_ptr<TreeSink> WriteTree() override;
  std::unique_ptr<EgressWatch> WatchEgress() override;
  std::unique_ptr<ByteStream> AcceptTunnel(uint64_t id) override;
  Status RefuseTunnel(uint64_t id, const std::string& reason,
                      std::chrono::milliseconds timeout) override;
  std::unique_ptr<ByteStream> Forward(uint16_t port) override;

  BulkReader* bulk() const override;
  void ReleaseBulk() override {
    if (bulk_) bulk_->Shutdown();
  }
  bool Alive() const override { return !broken_; }
  void MarkBroken() override { broken_ = true; }

  // The channel and the generated stub (kept out of this header).
  struct Wire;

 private:
  explicit GrpcGuestAgent(std::unique_ptr<Wire> wire);
  std::unique_ptr<Wire> wire_;
  std::atomic<bool> broken_{false};
  std::shared_ptr<BulkReader> bulk_;  // set once, by Connect
};

// Largest message the host accepts from a guest.
inline constexpr int kMaxAgentMessage = 8 << 20;

}  // namespace ws::guest
