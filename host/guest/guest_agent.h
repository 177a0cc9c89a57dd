// GuestAgent: what the host can ask of one workspace's guest agent, in the
// project's words. GrpcGuestAgent (over the VM's virtio-serial channel) is
// the one real implementation and the only host code that sees the agent's
// wire contract; tests use a fake. Everything a guest sends is untrusted:
// implementations clean every text the guest chose (error messages, command
// lines, notices) of control characters and bound it before returning it, and
// check every number against its range. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/byte_stream.h"
#include "host/common/status.h"
#include "workspace/v1/tree.pb.h"

namespace ws::guest {

class BulkReader;

// A command the host itself runs in the guest to completion (image builds,
// detached execs, the unfetched-commits question).
struct RunSpec {
  std::vector<std::string> argv;
  std::string user;                 // empty: the image's default user
  std::chrono::seconds timeout{0};  // 0: none
  std::vector<std::string> env;     // "KEY=VALUE", added
  std::string cwd;                  // empty: the agent's default
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

// An interactive command (the CLI's exec), chosen by the daemon: bulk_tag is
// the daemon's alone (which exec's output the bulk port carries).
struct ExecSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string cwd;
  std::string user;
  uint32_t timeout_seconds = 0;
  bool attach_stdin = false;
  bool tty = false;
  std::string term;
  uint32_t rows = 0, cols = 0;  // the terminal's size; 0: none given
  bool login_shell = false;
  std::string bulk_tag;  // empty: stdout through the call itself
};

// One input to a running command.
struct ExecInput {
  enum class Kind { kStdin, kCloseStdin, kSignal, kResize };
  Kind kind = Kind::kStdin;
  std::string data;             // kStdin
  int signal = 0;               // kSignal
  uint32_t rows = 0, cols = 0;  // kResize
};

// The agent's account of its time (guest clock, microseconds).
struct ExecTiming {
  uint32_t setup_us = 0, cgroup_us = 0, spawn_us = 0, run_us = 0, drain_us = 0, bulk_claim_us = 0,
           bulk_end_us = 0;
};

// How an exec ended. Exactly one of code (0..255) and signal (1..64) is set.
struct ExecEnd {
  int code = -1;
  int signal = 0;
  bool timed_out = false;
  bool bulk = false;                 // stdout went to the bulk port; its end marker was written
  std::vector<std::string> notices;  // held during a tty session: ≤20, cleaned, ≤1,024 bytes
  uint32_t notices_dropped = 0;
  ExecTiming timing;
};

struct ExecEvent {
  enum class Kind { kStdout, kStderr, kExit };
  Kind kind = Kind::kStdout;
  std::string data;  // kStdout, kStderr: the command's bytes, as they came
  ExecEnd end;       // kExit
};

// One running exec. Read and Write may run on two threads.
class ExecCall {
 public:
  virtual ~ExecCall() = default;
  virtual bool Write(const ExecInput& in) = 0;
  virtual void CloseWrite() = 0;
  // The next output or the exit; false at the end of the call, or when the
  // agent sent what it may not (the call is then cancelled).
  virtual bool Read(ExecEvent* event) = 0;
  virtual void Cancel() = 0;
  // After Read returned false (or after the exit, once CloseWrite was called).
  virtual Status Finish() = 0;
};

// A tree read out of the guest (the tree stream format of tree.proto).
class TreeSource {
 public:
  virtual ~TreeSource() = default;
  virtual bool Read(workspace::v1::TreeChunk* chunk) = 0;
  virtual void Cancel() = 0;
  virtual Status Finish() = 0;
};

struct TreeWritten {
  std::string root;  // guest path the root was written to (cleaned)
  uint64_t entries = 0, bytes = 0;
};

// A tree written into the guest: the first chunk is the start.
class TreeSink {
 public:
  virtual ~TreeSink() = default;
  virtual bool Write(const workspace::v1::TreeChunk& chunk) = 0;
  virtual void Cancel() = 0;
  // Closes the writing side and waits for the agent's answer.
  virtual Result<TreeWritten> Finish() = 0;
};

// A connection a program in the guest opened through the guest's proxy,
// held until the host answers it. Text fields are cut to kMaxEgressField
// (host: one byte past kMaxEgressHost, so an overlong name stays visible as
// one) and cleaned.
struct EgressAttempt {
  uint64_t id = 0;
  std::string host;
  uint32_t port = 0;
  std::string method;  // CONNECT, GET, ..., or REGISTRY for the registry port
  int32_t pid = 0;
  std::string command;
  std::string exec_id;
  // A plain-http request's head and first body bytes, raw (binary, not
  // cleaned), at most kMaxEgressHead: read for decoys, never shown.
  std::string head;
};
inline constexpr size_t kMaxEgressField = 1024;
inline constexpr size_t kMaxEgressHead = 64 * 1024;

// What the host sets in the guest (agent.proto's Configure).
struct GuestSettings {
  std::string ca_pem;            // a CA to trust; "" none
  std::vector<std::string> env;  // "KEY=VALUE" every exec gets
  struct HomeFile {
    std::string path;  // relative to the default user's home
    std::string content;
    unsigned mode = 0600;
  };
  std::vector<HomeFile> home_files;  // written where nothing is yet
  // Who the guest is (agent.proto's Identity). Set: the call sets only it.
  struct Identity {
    std::string hostname;
    std::string machine_id;  // 32 lowercase hex
    std::string git_name, git_email;
    struct Share {
      std::string tag, guest_path;
      bool read_only = false;
    };
    std::vector<Share> shares;
    std::string entropy;  // fresh random bytes
    int64_t unix_time_ns = 0;
  };
  std::optional<Identity> identity;
};
inline constexpr size_t kMaxEgressHost = 255;

class EgressWatch {
 public:
  virtual ~EgressWatch() = default;
  virtual bool Next(EgressAttempt* attempt) = 0;
  virtual void Cancel() = 0;
  virtual Status Finish() = 0;
};

class GuestAgent {
 public:
  virtual ~GuestAgent() = default;

  virtual Result<AgentInfo> Info(std::chrono::milliseconds timeout) = 0;
  virtual Status Shutdown(std::chrono::milliseconds timeout) = 0;
  // Sets what the host sets in the guest (agent.proto's Configure); the CA
  // and variables replace the last.
  virtual Status Configure(const GuestSettings& settings, std::chrono::milliseconds timeout) = 0;
  // A line for the stderr of the running exec `exec_id` (dropped by the
  // agent when there is none).
  virtual Status Notify(const std::string& exec_id, const std::string& line,
                        std::chrono::milliseconds timeout) = 0;
  // Runs a command with no stdin; each piece of its stdout and stderr goes
  // to on_output as it arrives (untrusted guest bytes). Stops the command
  // once `cancelled` returns true; it is polled about every second.
  virtual Result<RunExit> Run(const RunSpec& spec,
                              const std::function<void(std::string_view)>& on_output,
                              const std::function<bool()>& cancelled) = 0;
  // An exec, never null. The call starts on its first use (so it can be
  // cancelled before); a connection that is down shows as its end.
  virtual std::unique_ptr<ExecCall> Exec(const ExecSpec& spec) = 0;
  virtual std::unique_ptr<TreeSource> ReadTree(const std::string& guest_path) = 0;
  virtual std::unique_ptr<TreeSink> WriteTree() = 0;
  virtual std::unique_ptr<EgressWatch> WatchEgress() = 0;
  // The host's answer to a held connection: accepted, its bytes both ways.
  virtual std::unique_ptr<ByteStream> AcceptTunnel(uint64_t id) = 0;
  // Refused with `reason` (shown to the guest's client); waits at most
  // `timeout` for the agent to take it.
  virtual Status RefuseTunnel(uint64_t id, const std::string& reason,
                              std::chrono::milliseconds timeout) = 0;
  // A connection to `port` on the guest's loopback (port forwarding).
  virtual std::unique_ptr<ByteStream> Forward(uint16_t port) = 0;

  // The reader of the VM's bulk output port; null when the VM has none or
  // its socket has closed.
  virtual BulkReader* bulk() const = 0;
  // Lets go of the bulk port, for the connection that replaces this one.
  virtual void ReleaseBulk() = 0;
  // False once a call failed for want of a transport (guest gone, QEMU or
  // the agent restarted): the owner opens a new connection.
  virtual bool Alive() const = 0;
  virtual void MarkBroken() = 0;
};

}  // namespace ws::guest
