// What the CLI's command groups share: the connection to the daemon (made
// on first use), the exit code being built, and small printing helpers.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "host/cli/client.h"
#include "host/cli/exit_codes.h"
#include "host/common/status.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::cli {

namespace v1 = workspace::v1;
using Stub = v1::Controller::Stub;

// Prints "workspace: MSG" on stderr; returns `code`.
int Fail(const std::string& msg, int code);
// The same for a Status: 125 for exec-like commands, else ExitCodeFor().
int Fail(const Status& s, bool exec_like = false);

struct Context {
  GlobalOptions global;
  std::unique_ptr<Stub> stub;
  int code = kOk;  // the process exit code
  // Connects on first use; on failure prints, sets `code`, returns null.
  Stub* Connect(bool exec_like);
};

std::string ToJson(const google::protobuf::Message& m);
// "12 MiB", "2.5 GiB".
std::string Size(uint64_t bytes);
bool Tty();  // stderr is a terminal: show progress and hints
grpc::ClientContext* Deadline(grpc::ClientContext* ctx, int seconds);
// "[HOST_PORT:]GUEST_PORT" -> a PortForward (host 0: the guest's number if free).
Result<v1::PortForward> ParsePortSpec(const std::string& spec);

}  // namespace ws::cli
