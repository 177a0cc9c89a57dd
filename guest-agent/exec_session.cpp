#include "guest-agent/exec_session.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "guest-agent/cgroup.h"
#include "guest-agent/notices.h"
#include "guest-agent/proxy.h"
#include "guest-agent/reaper.h"
#include "guest-agent/spawn.h"
#include "guest-agent/users.h"
#include <sys/ioctl.h>
#include <termios.h>

namespace ws::agent {
namespace {

using workspace::v1::ExecRequest;
using workspace::v1::ExecResponse;
using workspace::v1::ExecStart;
using Clock = std::chrono::steady_clock;

// Output is coalesced up to this size per message: large messages are what
// make gRPC fast over the port (DESIGN: 256 KiB-1 MiB).
constexpr size_t kMaxChunk = 256 * 1024;
// How long leftover output is drained after the command's group is gone.
constexpr auto kDrainGrace = std::chrono::milliseconds(300);

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> BuildEnv(const ExecStart& start, const User& user) {
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" + user.home,
      "USER=" + user.name,
      "LOGNAME=" + user.name,
      "SHELL=" + user.shell,
      "LANG=C.UTF-8",
  };
  if (start.tty()) env.push_back("TERM=" + (start.term().empty() ? std::string("xterm") : start.term()));
  if (EgressProxy::Instance().running()) {
    const std::string proxy = "http://127.0.0.1:" + std::to_string(kProxyPort);
    for (const char* k : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) {
      env.push_back(std::string(k) + "=" + proxy);
    }
    env.push_back("NO_PROXY=localhost,127.0.0.1");
    env.push_back("no_proxy=localhost,127.0.0.1");
  }
  for (const auto& kv : start.env()) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = kv.substr(0, eq + 1);
    bool replaced = false;
    for (auto& e : env) {
      if (e.rfind(key, 0) == 0) {
        e = kv;
        replaced = true;
      }
    }
    if (!replaced) env.push_back(kv);
  }
  return env;
}

std::string DefaultCwd(const User& user) {
  for (const std::string& d : {std::string("/workspace"), user.home}) {
    if (IsDir(d)) return d;
  }
  return "/";
}

grpc::Status FailBeforeStart(ExecStream* stream, const std::string& message, int code) {
  ExecResponse err;
  err.set_stderr("workspace: " + message + "\n");
  stream->Write(err);
  ExecResponse exit;
  exit.mutable_exit()->set_code(code);
  stream->Write(exit);
  return grpc::Status::OK;
}

// State shared by the output loop, the input thread and the reaper callback.
struct Shared {
  std::mutex mu;
  bool input_done = false;       // guarded by mu
  std::condition_variable input_done_cv;
  unique_fd exit_event;          // eventfd, written by the reaper
  std::atomic<int> wait_status{-1};
  std::atomic<int64_t> reaped_ns{0};  // steady clock, when the reaper saw the exit
};

// Owns the command's stdin (the pty master for tty): only this thread
// writes or closes it.
void InputLoop(ExecStream* stream, pid_t pgid, bool tty, unique_fd stdin_fd, Shared* shared) {
  ExecRequest req;
  while (stream->Read(&req)) {
    if (!req.has_input()) continue;
    const auto& in = req.input();
    if (in.has_stdin()) {
      // Waits while the command does not read: the sender slows down
      // instead of this agent buffering.
      if (stdin_fd && !WriteAll(stdin_fd.get(), in.stdin().data(), in.stdin().size())) {
        stdin_fd.reset();
      }
    } else if (in.has_close_stdin()) {
      // On a terminal, end of input is the EOF character, as typed.
      if (tty && stdin_fd) WriteAll(stdin_fd.get(), "\x04", 1);
      if (!tty) stdin_fd.reset();
    } else if (in.has_signal()) {
      int sig = in.signal();
      if (sig > 0 && sig < NSIG) kill(-pgid, sig);
    } else if (in.has_resize() && tty && stdin_fd) {
      winsize ws = {static_cast<unsigned short>(in.resize().rows()),
                    static_cast<unsigned short>(in.resize().cols()), 0, 0};
      ioctl(stdin_fd.get(), TIOCSWINSZ, &ws);
    }
  }
  stdin_fd.reset();  // the host finished writing: EOF for the command
  std::lock_guard lock(shared->mu);
  shared->input_done = true;
  shared->input_done_cv.notify_all();
}

// Reads what is available from fd (up to kMaxChunk). Returns false on EOF or error.
bool ReadChunk(int fd, std::string* out) {
  out->resize(kMaxChunk);
  size_t len = 0;
  bool open = true;
  while (len < kMaxChunk) {
    ssize_t n = read(fd, out->data() + len, kMaxChunk - len);
    if (n > 0) {
      len += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    open = false;  // EOF or a real error
    break;
  }
  out->resize(len);
  return open;
}

}  // namespace

grpc::Status RunExecSession(grpc::ServerContext* ctx, ExecStream* stream) {
  ExecRequest first;
  if (!stream->Read(&first) || !first.has_start()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "the first Exec message must be start"};
  }
  const auto received = Clock::now();
  const ExecStart& start = first.start();
  if (start.argv().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "empty argv"};

  auto user = LookupUser(start.user());
  if (!user.ok()) return FailBeforeStart(stream, user.status().message(), 126);
  SpawnSpec spec;
  spec.env = BuildEnv(start, user.value());
  spec.cwd = start.cwd().empty() ? DefaultCwd(user.value()) : start.cwd();
  spec.pipe_stdin = start.attach_stdin();
  spec.tty = start.tty();
  if (start.has_window() && start.window().rows() && start.window().cols()) {
    spec.window = {start.window().rows(), start.window().cols()};
  }
  spec.uid = user->uid;
  spec.gid = user->gid;
  spec.groups = user->groups;
  if (start.login_shell()) {
    spec.path = user->shell;
    spec.argv = {"-" + user->shell.substr(user->shell.rfind('/') + 1)};
  } else {
    spec.argv.assign(start.argv().begin(), start.argv().end());
    auto path = ResolveCommand(spec.argv[0], spec.env);
    if (!path.ok()) return FailBeforeStart(stream, path.status().message(), ExitCodeForSpawnError(path.status()));
    spec.path = path.value();
  }
  if (!IsDir(spec.cwd)) {
    return FailBeforeStart(stream, "working directory " + spec.cwd + " does not exist", 126);
  }

  auto shared = std::make_shared<Shared>();
  shared->exit_event.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  const auto cgroup_at = Clock::now();
  std::unique_ptr<ExecCgroup> cgroup = ExecCgroup::Create();
  spec.cgroup_procs_fd = cgroup ? cgroup->procs_fd() : -1;
  const auto spawn_at = Clock::now();
  auto child = Spawn(spec);
  if (!child.ok()) {
    return FailBeforeStart(stream, child.status().message(), ExitCodeForSpawnError(child.status()));
  }
  const pid_t pid = child->pid;
  const auto spawned = Clock::now();
  // Everything the command started: its cgroup where there is one, else its group.
  auto kill_all = [&] {
    if (cgroup) cgroup->Kill();
    kill(-pid, SIGKILL);
  };
  Reaper::Instance().Watch(pid, [shared](int status) {
    shared->reaped_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
    shared->wait_status = status;
    uint64_t one = 1;
    (void)!write(shared->exit_event.get(), &one, sizeof one);
  });
  std::thread input([stream, pid, tty = spec.tty, shared, in = std::move(child->stdin_fd)]() mutable {
    InputLoop(stream, pid, tty, std::move(in), shared.get());
  });

  unique_fd out = std::move(child->stdout_fd), err = std::move(child->stderr_fd);
  const auto deadline = start.timeout_seconds() > 0
                            ? Clock::now() + std::chrono::seconds(start.timeout_seconds())
                            : Clock::time_point::max();
  // Refused connections this exec made are reported on its stderr.
  std::shared_ptr<NoticeBoard::Box> notices;
  if (cgroup) notices = NoticeBoard::Instance().Register(cgroup->id());
  std::optional<Clock::time_point> exited_at;
  bool timed_out = false, client_gone = false;
  std::string buf;
  ExecResponse msg;

  while (out.valid() || err.valid()) {
    if (exited_at && Clock::now() - *exited_at > kDrainGrace) break;
    pollfd fds[4] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0},
                     {shared->exit_event.get(), POLLIN, 0}, {notices ? notices->event.get() : -1, POLLIN, 0}};
    int n = poll(fds, 4, 100);
    if (n < 0 && errno != EINTR) break;
    if (ctx->IsCancelled()) {
      client_gone = true;
      kill_all();
      break;
    }
    if (!timed_out && Clock::now() >= deadline) {
      timed_out = true;
      kill_all();
    }
    if (fds[3].revents & POLLIN) {
      for (const auto& line : NoticeBoard::Take(*notices)) {
        msg.set_stderr(line);
        stream->Write(msg);
      }
    }
    if (fds[2].revents & POLLIN) {
      uint64_t v;
      (void)!read(shared->exit_event.get(), &v, sizeof v);
      // The command ended: what it left behind goes too.
      kill_all();
      exited_at = Clock::now();
    }
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      unique_fd& fd = i == 0 ? out : err;
      bool open = ReadChunk(fd.get(), &buf);
      if (!buf.empty()) {
        if (i == 0) {
          msg.set_stdout(buf);
        } else {
          msg.set_stderr(buf);
        }
        if (!stream->Write(msg)) {
          client_gone = true;
          kill_all();
          break;
        }
      }
      if (!open) fd.reset();
    }
    if (client_gone) break;
  }

  // Wait for the exit status (the group was killed if we stopped early).
  while (shared->wait_status.load() < 0) {
    pollfd p = {shared->exit_event.get(), POLLIN, 0};
    poll(&p, 1, 100);
    if (shared->wait_status.load() < 0 && ctx->IsCancelled()) kill_all();
  }
  if (cgroup) NoticeBoard::Instance().Unregister(cgroup->id());
  int status = shared->wait_status.load();
  if (!client_gone) {
    ExecResponse exit;
    auto* e = exit.mutable_exit();
    if (WIFSIGNALED(status)) {
      e->set_signal(WTERMSIG(status));
    } else {
      e->set_code(WEXITSTATUS(status));
    }
    e->set_timed_out(timed_out);
    const Clock::time_point reaped{std::chrono::nanoseconds(shared->reaped_ns.load())};
    auto us = [](Clock::duration d) { return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()); };
    e->mutable_timing()->set_setup_us(us(spawned - received));
    e->mutable_timing()->set_cgroup_us(us(spawn_at - cgroup_at));
    e->mutable_timing()->set_spawn_us(us(spawned - spawn_at));
    e->mutable_timing()->set_run_us(us(reaped - spawned));
    e->mutable_timing()->set_drain_us(us(Clock::now() - reaped));
    stream->Write(exit);
  }
  {
    std::unique_lock lock(shared->mu);
    // The host half-closes after the exit message; do not wait forever on one that does not.
    if (!shared->input_done_cv.wait_for(lock, std::chrono::seconds(2),
                                        [&] { return shared->input_done; })) {
      ctx->TryCancel();
    }
  }
  input.join();
  return client_gone ? grpc::Status::CANCELLED : grpc::Status::OK;
}

}  // namespace ws::agent
