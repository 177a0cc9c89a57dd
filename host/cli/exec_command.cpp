#include "host/cli/exec_command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include "host/cli/exit_codes.h"
#include "host/common/grpc_status.h"
#include "host/common/printable.h"
#include "host/common/unique_fd.h"

namespace ws::cli {
namespace {

namespace v1 = workspace::v1;
using Stream = grpc::ClientReaderWriter<v1::WorkspaceExecRequest, v1::WorkspaceExecResponse>;

constexpr size_t kStdinChunk = 1 << 20;

// One writer at a time on the stream: stdin pump and signal thread share it.
class Sender {
 public:
  explicit Sender(Stream* s) : stream_(s) {}
  bool Send(const v1::WorkspaceExecRequest& req) {
    std::lock_guard lock(mu_);
    return !done_ && stream_->Write(req);
  }
  void Close() {
    std::lock_guard lock(mu_);
    if (!done_) stream_->WritesDone();
    done_ = true;
  }

 private:
  std::mutex mu_;
  Stream* stream_;
  bool done_ = false;  // guarded by mu_
};

// Puts the terminal in raw mode for the life of the object.
class RawTerminal {
 public:
  RawTerminal() {
    if (tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

std::optional<v1::TerminalSize> TerminalSize() {
  winsize ws{};
  for (int fd : {0, 1, 2}) {
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
      v1::TerminalSize out;
      out.set_rows(ws.ws_row);
      out.set_cols(ws.ws_col);
      return out;
    }
  }
  return std::nullopt;
}

// Forwards our stdin until EOF (then closes the command's stdin), or until
// `wake` becomes readable.
void PumpStdin(Sender* sender, int wake) {
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
    // Take what else is already there (a pipe hands out 64 KiB per read):
    // fewer, larger messages are what the guest moves fastest.
    size_t len = static_cast<size_t>(n);
    bool eof = false;
    for (pollfd more = {0, POLLIN, 0}; len < buf.size() && poll(&more, 1, 0) == 1;
         more.revents = 0) {
      ssize_t m = read(0, buf.data() + len, buf.size() - len);
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) {
        eof = m == 0;
        break;
      }
      len += static_cast<size_t>(m);
    }
    req.mutable_input()->set_stdin(buf.data(), len);
    if (!sender->Send(req)) return;
    if (eof) break;
  }
  req.mutable_input()->set_close_stdin(true);
  sender->Send(req);
  sender->Close();
}

// Signals reach whichever thread the kernel picks (gRPC has its own), so a
// handler only notes them in a pipe; ForwardSignals does the work.
int signal_pipe[2] = {-1, -1};

void NoteSignal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  int saved = errno;
  (void)!write(signal_pipe[1], &b, 1);
  errno = saved;
}

// Forwards the signals noted to the remote command; SIGWINCH as a resize.
void ForwardSignals(Sender* sender, std::atomic<bool>* done) {
  while (!*done) {
    pollfd p = {signal_pipe[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    unsigned char b = 0;
    if (read(signal_pipe[0], &b, 1) != 1) continue;
    int sig = b;
    if (sig == 0) continue;  // a wake-up: see `done`
    v1::WorkspaceExecRequest req;
    if (sig == SIGWINCH) {
      auto size = TerminalSize();
      if (!size) continue;
      *req.mutable_input()->mutable_resize() = *size;
    } else {
      req.mutable_input()->set_signal(sig);
    }
    sender->Send(req);
  }
}

}  // namespace

int RunExec(v1::Controller::Stub* stub, const ExecOptions& o) {
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return kExecFailure;
  struct sigaction sa = {};
  sa.sa_handler = NoteSignal;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH}) sigaction(sig, &sa, nullptr);

  grpc::ClientContext ctx;
  auto stream = stub->Exec(&ctx);
  Sender sender(stream.get());
  v1::WorkspaceExecRequest start;
  start.mutable_start()->set_workspace(o.workspace);
  start.mutable_start()->set_pipe_stdout(o.pipe_stdout);
  auto* e = start.mutable_start();
  for (const auto& a : o.argv) e->add_argv(a);
  for (const auto& kv : o.env) e->add_env(kv);
  e->set_cwd(o.cwd);
  e->set_user(o.user);
  e->set_timeout_seconds(o.timeout_seconds);
  e->set_attach_stdin(o.interactive);
  e->set_tty(o.tty);
  e->set_login_shell(o.login_shell);
  if (o.tty) {
    const char* term = getenv("TERM");
    e->set_term(term ? term : "xterm");
    if (auto size = TerminalSize()) *e->mutable_window() = *size;
  }
  sender.Send(start);

  std::optional<RawTerminal> raw;
  if (o.tty && o.interactive && isatty(0)) raw.emplace();
  std::atomic<bool> done{false};
  std::thread signals([&] { ForwardSignals(&sender, &done); });
  int wake[2] = {-1, -1};
  std::thread pump;
  if (o.interactive) {
    if (pipe2(wake, O_CLOEXEC) != 0) return kExecFailure;
    pump = std::thread([&] { PumpStdin(&sender, wake[0]); });
  }
  // Without -i the stream stays open anyway: signals and resizes travel on it.
  unique_fd wake_r(wake[0]), wake_w(wake[1]);

  v1::WorkspaceExecResponse resp;
  std::optional<v1::WorkspaceExecExit> exit;
  bool out_ok = true;
  uint64_t out_bytes = 0;
  bool too_large = false;
  while (stream->Read(&resp)) {
    if (resp.has_stdout()) {
      out_bytes += resp.stdout().size();
      if (o.max_stdout && out_bytes > o.max_stdout) {
        too_large = true;
        ctx.TryCancel();  // the daemon's call ends, and with it the command
        break;
      }
      if (out_ok && !WriteAll(o.stdout_fd, resp.stdout().data(), resp.stdout().size()))
        out_ok = false;
    } else if (resp.has_stderr()) {
      WriteAll(2, resp.stderr().data(), resp.stderr().size());
    } else if (resp.has_exit()) {
      exit = resp.exit();
      break;
    }
  }
  done = true;
  NoteSignal(0);
  if (pump.joinable()) {
    (void)!write(wake_w.get(), "x", 1);
    pump.join();
  }
  signals.join();
  sender.Close();
  Status s = FromGrpc(stream->Finish());
  raw.reset();  // restore the terminal before printing anything
  if (exit) {
    // Held back during a -t session (guest text: cleaned, one line each).
    for (const auto& n : exit->notices()) {
      std::string line = n;
      while (!line.empty() && line.back() == '\n') line.pop_back();
      std::fprintf(stderr, "%s\n", Printable(line.substr(0, 1024)).c_str());
    }
    if (exit->notices_dropped()) {
      std::fprintf(stderr, "workspace: and %u more denials (workspace audit %s --denied)\n",
                   exit->notices_dropped(), o.workspace.c_str());
    }
  }
  if (too_large) return kOutputTooLarge;
  if (!exit) {
    std::fprintf(stderr, "workspace: exec in '%s' failed: %s\n", o.workspace.c_str(),
                 s.ok() ? "the command's exit status was lost" : s.message().c_str());
    return kExecFailure;
  }
  if (exit->timed_out()) {
    std::fprintf(stderr, "workspace: command timed out after %u s and was killed\n",
                 o.timeout_seconds);
    return kExecTimeout;
  }
  if (exit->status_case() == v1::WorkspaceExecExit::kSignal) return kSignalBase + exit->signal();
  return exit->code();
}

}  // namespace ws::cli
