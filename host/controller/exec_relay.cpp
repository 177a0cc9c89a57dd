#include "host/controller/exec_relay.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "host/common/cleanup.h"
#include "host/common/grpc_status.h"
#include "host/guest/bulk_stream.h"

namespace ws::controller {
namespace {

namespace v1 = workspace::v1;
using guest::ExecEvent;
using guest::ExecInput;

// After the exit message says the output went through the bulk port, how
// long the port may stay silent before its end marker arrives.
constexpr auto kBulkIdle = std::chrono::seconds(10);

// The CLI's input in the agent's terms; false for a message with nothing in it.
bool ToInput(const v1::WorkspaceExecInput& in, ExecInput* out) {
  switch (in.kind_case()) {
    case v1::WorkspaceExecInput::kStdin:
      out->kind = ExecInput::Kind::kStdin;
      out->data = in.stdin();
      return true;
    case v1::WorkspaceExecInput::kCloseStdin:
      out->kind = ExecInput::Kind::kCloseStdin;
      return true;
    case v1::WorkspaceExecInput::kSignal:
      out->kind = ExecInput::Kind::kSignal;
      out->signal = in.signal();
      return true;
    case v1::WorkspaceExecInput::kResize:
      out->kind = ExecInput::Kind::kResize;
      out->rows = in.resize().rows();
      out->cols = in.resize().cols();
      return true;
    case v1::WorkspaceExecInput::KIND_NOT_SET:
      return false;
  }
  return false;
}

// The agent's event for the CLI (the adapter checked it and cleaned its text).
v1::WorkspaceExecResponse ToCli(ExecEvent&& ev) {
  v1::WorkspaceExecResponse m;
  switch (ev.kind) {
    case ExecEvent::Kind::kStdout:
      m.set_stdout(std::move(ev.data));
      break;
    case ExecEvent::Kind::kStderr:
      m.set_stderr(std::move(ev.data));
      break;
    case ExecEvent::Kind::kExit: {
      auto* e = m.mutable_exit();
      if (ev.end.signal) {
        e->set_signal(ev.end.signal);
      } else {
        e->set_code(ev.end.code);
      }
      e->set_timed_out(ev.end.timed_out);
      for (auto& n : ev.end.notices) e->add_notices(std::move(n));
      e->set_notices_dropped(ev.end.notices_dropped);
      const auto& t = ev.end.timing;
      auto* mt = e->mutable_timing();
      mt->set_setup_us(t.setup_us);
      mt->set_cgroup_us(t.cgroup_us);
      mt->set_spawn_us(t.spawn_us);
      mt->set_run_us(t.run_us);
      mt->set_drain_us(t.drain_us);
      mt->set_bulk_claim_us(t.bulk_claim_us);
      mt->set_bulk_end_us(t.bulk_end_us);
      break;
    }
  }
  return m;
}

}  // namespace

guest::ExecSpec ExecSpecFor(const v1::WorkspaceExecStart& start) {
  guest::ExecSpec spec;
  spec.argv.assign(start.argv().begin(), start.argv().end());
  spec.env.assign(start.env().begin(), start.env().end());
  spec.cwd = start.cwd();
  spec.user = start.user();
  spec.timeout_seconds = start.timeout_seconds();
  spec.attach_stdin = start.attach_stdin();
  spec.tty = start.tty();
  spec.term = start.term();
  spec.rows = start.window().rows();
  spec.cols = start.window().cols();
  spec.login_shell = start.login_shell();
  return spec;
}

grpc::Status RelayExec(const AgentLookup& agents, const Caller& caller, grpc::ServerContext* ctx,
                       CliExecStream* cli) {
  v1::WorkspaceExecRequest first;
  if (!cli->Read(&first) || !first.has_start()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "the first Exec message must name the workspace"};
  }
  const std::string& name = first.start().workspace();
  if (first.start().argv().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "no command given"};
  }
  auto agent = agents(caller, name);
  if (!agent.ok()) return ToGrpc(agent.status());
  guest::ExecSpec spec = ExecSpecFor(first.start());

  // Writes to the CLI come from this thread and, for output through the
  // bulk port, from the port's reader thread.
  std::mutex cli_mu;
  auto write_cli = [&](const v1::WorkspaceExecResponse& m) {
    std::lock_guard lock(cli_mu);
    return cli->Write(m);
  };
  guest::BulkReader* bulk =
      spec.tty || first.start().pipe_stdout() ? nullptr : agent.value()->bulk();
  std::shared_ptr<guest::BulkSink> sink;
  // Set before the sink can deliver; what a failed delivery cancels.
  std::shared_ptr<guest::ExecCall> call;
  std::mutex call_mu;
  auto cancel_call = [&] {
    std::lock_guard lock(call_mu);
    if (call) call->Cancel();
  };
  if (bulk) {
    sink = std::make_shared<guest::BulkSink>([&](std::string_view data) {
      v1::WorkspaceExecResponse m;
      m.set_stdout(std::string(data));
      if (write_cli(m)) return true;
      cancel_call();  // the CLI went away: kill the command
      return false;
    });
    spec.bulk_tag = bulk->Register(sink);
  }
  // Before this function's locals go: no delivery after it.
  Cleanup unregister([&] {
    if (bulk) bulk->Unregister(spec.bulk_tag);
  });
  {
    std::lock_guard lock(call_mu);
    call = agent.value()->Exec(spec);
  }

  std::mutex mu;
  std::condition_variable cv;
  bool input_done = false, output_done = false;  // guarded by mu
  std::thread input([&] {
    v1::WorkspaceExecRequest req;
    ExecInput in;
    while (cli->Read(&req)) {
      if (!req.has_input() || !ToInput(req.input(), &in)) continue;
      if (!call->Write(in)) break;
    }
    call->CloseWrite();
    std::unique_lock lock(mu);
    input_done = true;
    cv.notify_all();
    // Until the output ends, the CLI going away (after its half-close too)
    // kills the command: a silent guest holds no thread past the caller.
    while (!output_done) {
      if (ctx->IsCancelled()) {
        call->Cancel();
        break;
      }
      cv.wait_for(lock, std::chrono::milliseconds(100));
    }
  });

  ExecEvent ev;
  bool saw_exit = false;
  std::string bulk_error;
  while (call->Read(&ev)) {
    if (ev.kind == ExecEvent::Kind::kExit && ev.end.bulk) {
      // Everything before the end marker goes out before the exit.
      auto outcome = sink ? sink->WaitEnd(kBulkIdle, [&] { return ctx->IsCancelled(); })
                          : guest::BulkSink::Outcome::kLost;
      if (outcome != guest::BulkSink::Outcome::kEnded) {
        bulk_error = outcome == guest::BulkSink::Outcome::kLost
                         ? "lost the command's output stream"
                         : "the command's output stopped arriving";
        call->Cancel();
        break;
      }
    }
    saw_exit = ev.kind == ExecEvent::Kind::kExit;
    if (!write_cli(ToCli(std::move(ev)))) {
      call->Cancel();
      break;
    }
    if (saw_exit) break;
  }
  {
    std::unique_lock lock(mu);
    output_done = true;
    cv.notify_all();
    // After the exit the CLI half-closes; one that does not is cut off.
    if (!cv.wait_for(lock, std::chrono::seconds(2), [&] { return input_done; })) {
      ctx->TryCancel();  // unblocks cli->Read
      call->Cancel();    // unblocks the write to the agent
    }
  }
  input.join();
  if (saw_exit) {
    // The input side is closed, the exit status relayed: the agent's
    // trailers carry nothing the CLI needs, and a guest that never sends
    // them must not keep this thread (cancelled, the call ends at once).
    call->Cancel();
    (void)call->Finish();
    return grpc::Status::OK;
  }
  // Read ended: the call is over (cancelled above if this side ended it).
  Status agent_status = call->Finish();
  if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
  if (!bulk_error.empty()) {
    return {grpc::StatusCode::UNAVAILABLE,
            "workspace '" + name + "': " + bulk_error + " (did the VM stop?)"};
  }
  if (agent_status.ok() || agent_status.code() == Code::kUnavailable) {
    return {grpc::StatusCode::UNAVAILABLE,
            "workspace '" + name + "': lost the guest agent during exec (did the VM stop?)" +
                (agent_status.ok() ? "" : ": " + agent_status.message())};
  }
  // The agent's own answer (its text cleaned by the adapter).
  return ToGrpc(Status(agent_status.code(), "workspace '" + name + "': " + agent_status.message()));
}

}  // namespace ws::controller
