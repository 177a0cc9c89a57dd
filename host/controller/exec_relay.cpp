#include "host/controller/exec_relay.h"

#include <algorithm>

#include <signal.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "host/common/cleanup.h"
#include "host/common/grpc_status.h"

namespace ws::controller {
namespace {

using workspace::v1::ExecRequest;
using workspace::v1::ExecResponse;
using workspace::v1::WorkspaceExecRequest;

// After the exit message says the output went through the bulk port, how
// long the port may stay silent before its end marker arrives.
constexpr auto kBulkIdle = std::chrono::seconds(10);

// False when the message is not one the agent may send.
bool Sanitize(ExecResponse* m) {
  switch (m->kind_case()) {
    case ExecResponse::kStdout:
    case ExecResponse::kStderr: return true;
    case ExecResponse::kExit: {
      // Notices held from a -t session: bounded as the agent promises.
      auto* held = m->mutable_exit()->mutable_notices();
      while (held->size() > 20) held->RemoveLast();
      for (auto& n : *held) n.resize(std::min<size_t>(n.size(), 1024));
      const auto& e = m->exit();
      if (e.status_case() == workspace::v1::ExecExit::kCode) return e.code() >= 0 && e.code() <= 255;
      if (e.status_case() == workspace::v1::ExecExit::kSignal) return e.signal() > 0 && e.signal() < 65;
      return false;
    }
    case ExecResponse::KIND_NOT_SET: return false;
  }
  return false;
}

}  // namespace

grpc::Status RelayExec(Workspaces& workspaces, const Caller& caller, grpc::ServerContext* ctx,
                       CliExecStream* cli) {
  WorkspaceExecRequest first;
  if (!cli->Read(&first) || !first.has_start()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "the first Exec message must name the workspace"};
  }
  if (first.start().exec().argv().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "no command given"};
  }
  auto agent = workspaces.Agent(caller, first.start().workspace());
  if (!agent.ok()) return ToGrpc(agent.status());

  // Shared with the thread that finishes the agent's call after the exit
  // status went out (the CLI need not wait for the agent's trailers).
  struct AgentCall {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<ExecRequest, ExecResponse>> stream;
  };
  auto call = std::make_shared<AgentCall>();
  grpc::ClientContext& actx = call->ctx;
  call->stream = agent.value()->stub()->Exec(&actx);
  auto& astream = call->stream;
  ExecRequest start;
  *start.mutable_start() = first.start().exec();

  // Writes to the CLI come from this thread and, for output through the
  // bulk port, from the port's reader thread.
  std::mutex cli_mu;
  auto write_cli = [&](const ExecResponse& m) {
    std::lock_guard lock(cli_mu);
    return cli->Write(m);
  };
  guest::BulkReader* bulk =
      start.start().tty() || first.start().pipe_stdout() ? nullptr : agent.value()->bulk();
  std::shared_ptr<guest::BulkSink> sink;
  std::string bulk_tag;
  if (bulk) {
    sink = std::make_shared<guest::BulkSink>([&](std::string_view data) {
      ExecResponse m;
      m.set_stdout(std::string(data));
      if (write_cli(m)) return true;
      actx.TryCancel();  // the CLI went away: kill the command
      return false;
    });
    bulk_tag = bulk->Register(sink);
    start.mutable_start()->set_bulk_tag(bulk_tag);
  }
  // Before this function's locals go: no delivery after it.
  Cleanup unregister([&] {
    if (bulk) bulk->Unregister(bulk_tag);
  });

  if (!astream->Write(start)) {
    agent.value()->Observe(astream->Finish());
    return {grpc::StatusCode::UNAVAILABLE, "workspace '" + first.start().workspace() +
                                               "': the guest agent connection is down"};
  }

  std::mutex mu;
  std::condition_variable cv;
  bool input_done = false;
  std::thread input([&] {
    WorkspaceExecRequest req;
    ExecRequest out;
    while (cli->Read(&req)) {
      if (!req.has_input()) continue;
      *out.mutable_input() = req.input();
      if (!astream->Write(out)) break;
    }
    astream->WritesDone();
    if (ctx->IsCancelled()) actx.TryCancel();  // the CLI went away: kill the command
    std::lock_guard lock(mu);
    input_done = true;
    cv.notify_all();
  });

  ExecResponse resp;
  bool saw_exit = false;
  std::string bulk_error;
  while (astream->Read(&resp)) {
    if (!Sanitize(&resp)) {
      actx.TryCancel();
      break;
    }
    if (resp.has_exit() && resp.exit().bulk()) {
      // Everything before the end marker goes out before the exit.
      auto outcome = sink ? sink->WaitEnd(kBulkIdle, [&] { return ctx->IsCancelled(); })
                          : guest::BulkSink::Outcome::kLost;
      if (outcome != guest::BulkSink::Outcome::kEnded) {
        bulk_error = outcome == guest::BulkSink::Outcome::kLost
                         ? "lost the command's output stream"
                         : "the command's output stopped arriving";
        actx.TryCancel();
        break;
      }
    }
    saw_exit = resp.has_exit();
    if (!write_cli(resp)) {
      actx.TryCancel();
      break;
    }
    if (saw_exit) break;
  }
  {
    std::unique_lock lock(mu);
    // After the exit the CLI half-closes; one that does not is cut off.
    if (!cv.wait_for(lock, std::chrono::seconds(2), [&] { return input_done; })) {
      ctx->TryCancel();   // unblocks cli->Read
      actx.TryCancel();   // unblocks astream->Write
    }
  }
  input.join();
  if (saw_exit) {
    // The input side is closed (WritesDone), the exit status relayed: the
    // agent's trailers carry nothing the CLI needs.
    std::thread([call] { call->stream->Finish(); }).detach();
    return grpc::Status::OK;
  }
  actx.TryCancel();
  grpc::Status agent_status = astream->Finish();
  if (!ctx->IsCancelled()) agent.value()->Observe(agent_status);
  if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
  if (!bulk_error.empty()) {
    return {grpc::StatusCode::UNAVAILABLE,
            "workspace '" + first.start().workspace() + "': " + bulk_error + " (did the VM stop?)"};
  }
  return {grpc::StatusCode::UNAVAILABLE,
          "workspace '" + first.start().workspace() +
              "': lost the guest agent during exec (did the VM stop?): " + agent_status.error_message()};
}

}  // namespace ws::controller
