#include "host/cli/exec_command.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstdio>
#include <optional>
#include <thread>

#include "host/cli/exit_codes.h"
#include "host/common/grpc_status.h"
#include "host/common/unique_fd.h"

namespace ws::cli {
namespace {

namespace v1 = workspace::v1;
using Stream = grpc::ClientReaderWriter<v1::WorkspaceExecRequest, v1::ExecResponse>;

constexpr size_t kStdinChunk = 256 * 1024;

// Forwards our stdin until EOF (then half-closes: *writes_done), or until
// `wake` becomes readable.
void PumpStdin(Stream* stream, int wake, bool* writes_done) {
  std::string buf(kStdinChunk, '\0');
  v1::WorkspaceExecRequest req;
  for (;;) {
    pollfd fds[2] = {{0, POLLIN, 0}, {wake, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) return;  // the command ended: stop reading
    ssize_t n = read(0, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    req.mutable_input()->set_stdin(buf.data(), static_cast<size_t>(n));
    if (!stream->Write(req)) return;
  }
  req.mutable_input()->set_close_stdin(true);
  stream->Write(req);
  stream->WritesDone();
  *writes_done = true;
}

}  // namespace

int RunExec(v1::Controller::Stub* stub, const ExecOptions& o) {
  grpc::ClientContext ctx;
  auto stream = stub->Exec(&ctx);
  v1::WorkspaceExecRequest start;
  start.mutable_start()->set_workspace(o.workspace);
  auto* e = start.mutable_start()->mutable_exec();
  for (const auto& a : o.argv) e->add_argv(a);
  for (const auto& kv : o.env) e->add_env(kv);
  e->set_cwd(o.cwd);
  e->set_timeout_seconds(o.timeout_seconds);
  e->set_attach_stdin(o.interactive);
  stream->Write(start);

  int wake[2] = {-1, -1};
  std::thread pump;
  bool writes_done = false;  // written by pump until it is joined
  if (o.interactive) {
    if (pipe2(wake, O_CLOEXEC) != 0) return kExecFailure;
    pump = std::thread([&] { PumpStdin(stream.get(), wake[0], &writes_done); });
  } else {
    stream->WritesDone();
  }
  unique_fd wake_r(wake[0]), wake_w(wake[1]);

  v1::ExecResponse resp;
  std::optional<v1::ExecExit> exit;
  bool out_ok = true;
  while (stream->Read(&resp)) {
    if (resp.has_stdout()) {
      if (out_ok && !WriteAll(1, resp.stdout().data(), resp.stdout().size())) out_ok = false;
    } else if (resp.has_stderr()) {
      WriteAll(2, resp.stderr().data(), resp.stderr().size());
    } else if (resp.has_exit()) {
      exit = resp.exit();
      break;
    }
  }
  if (pump.joinable()) {
    (void)!write(wake_w.get(), "x", 1);
    pump.join();
    if (!writes_done) stream->WritesDone();
  }
  Status s = FromGrpc(stream->Finish());
  if (!exit) {
    std::fprintf(stderr, "workspace: exec in '%s' failed: %s\n", o.workspace.c_str(),
                 s.ok() ? "the command's exit status was lost" : s.message().c_str());
    return kExecFailure;
  }
  if (exit->timed_out()) {
    std::fprintf(stderr, "workspace: command timed out after %u s and was killed\n", o.timeout_seconds);
    return kExecTimeout;
  }
  if (exit->status_case() == v1::ExecExit::kSignal) return kSignalBase + exit->signal();
  return exit->code();
}

}  // namespace ws::cli
