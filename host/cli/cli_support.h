// What the CLI's command groups share: the connection to the daemon (made
// on first use), the exit code being built, and small printing helpers.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "host/cli/client.h"
#include "host/cli/exit_codes.h"
#include "host/common/status.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::cli {

namespace v1 = workspace::v1;
using Stub = v1::Controller::Stub;

// Help text of a command's NAME (optional) and NAMEs.
inline constexpr char kNameHelp[] = "Workspace name (default: the current folder's workspace)";
inline constexpr char kNamesHelp[] = "Workspace names (default: the current folder's workspace)";

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
  // Fills an empty *name with the current folder's workspace (ResolveName);
  // on failure prints, sets `code`, returns false.
  bool Resolve(Stub* stub, std::string* name, bool exec_like = false,
               const std::string& obvious_for = "");
  // For `allow [NAME] HOST...`, `port [NAME] SPEC`, `logs [NAME] [ID]`:
  // the first of *args is NAME (taken out of *args) when `first_is_name`
  // says so, a rule on the words alone (never on whether another user has
  // such a workspace); else NAME is the current folder's workspace.
  bool SplitName(Stub* stub, std::vector<std::string>* args, std::string* name, bool first_is_name);
};

std::string ToJson(const google::protobuf::Message& m);
// "12 MiB", "2.5 GiB".
std::string Size(uint64_t bytes);
bool Tty();  // stderr is a terminal: show progress and hints
grpc::ClientContext* Deadline(grpc::ClientContext* ctx, int seconds);
// "[HOST_PORT:]GUEST_PORT" -> a PortForward (host 0: the guest's number if free).
Result<v1::PortForward> ParsePortSpec(const std::string& spec);

// The GitHub rule set's lines for `allow --list` and `inspect` (nothing
// when it is off), each line starting with `indent`.
void PrintGithubRules(const v1::GithubRules& rules,
                      const google::protobuf::RepeatedPtrField<v1::AllowRule>& allow,
                      const std::string& indent);

// --verbose of create and reset: how the guest came up, on stderr.
void PrintBoot(const std::string& name, const v1::Boot& boot);

}  // namespace ws::cli

namespace ws::cli {

// The workspace a command without NAME means: the one whose share holds
// `folder` (the nearest, searching upward as git does), else one named
// after `folder` (as create names it). Ambiguity, or none, is an error that
// says what to type. `why` is set when the pick is not obvious (it shares a
// folder above this one, or is not named after it).
// Only workspaces owned by `uid` are candidates (root's list holds
// everyone's: a member's workspace sharing /srv must not be root's pick).
Result<std::string> WorkspaceForFolder(const v1::ListResponse& list, const std::string& folder,
                                       uint32_t uid, std::string* why);

// `given` when set; else WorkspaceForFolder of the current folder, saying
// on a terminal which it picked when that is not obvious. `obvious_for`
// (a command: destroy, reset): a pick that is not obvious is refused,
// asking for NAME.
Result<std::string> ResolveName(Stub* stub, const std::string& given,
                                const std::string& obvious_for = "");

}  // namespace ws::cli
