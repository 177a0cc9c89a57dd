#include "guest-agent/exec_session.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>

#include "guest-agent/bulk_port.h"
#include "guest-agent/cgroup.h"
#include "guest-agent/exec_spec.h"
#include "guest-agent/notices.h"
#include "guest-agent/reaper.h"
#include "guest-agent/session_threads.h"
#include "guest-agent/spawn.h"
#include "workspace/v1/agent.grpc.pb.h"

namespace ws::agent {
namespace {

using grpc::ByteBuffer;
using workspace::v1::ExecRequest;
using workspace::v1::ExecResponse;
using workspace::v1::ExecStart;
using Clock = std::chrono::steady_clock;

// Output is coalesced up to this size per message: large messages are what
// make gRPC fast over the port (DESIGN: 256 KiB-1 MiB; 4 MiB measured
// another ~15 % under TCG over 1 MiB). Under gRPC's default 4 MiB receive
// limit with the header, so any client of the daemon's Exec takes it. The
// command's pipe holds as much (spawn.cpp).
constexpr size_t kMaxChunk = (4 << 20) - (64 << 10);
// How long leftover output is drained after the command's group is gone.
constexpr auto kDrainGrace = std::chrono::milliseconds(300);
// Notices held back from a -t session, given with its exit.
constexpr size_t kHeldNotices = 20;

ByteBuffer Serialize(const ExecResponse& msg) {
  ByteBuffer out;
  bool own_buffer;
  (void)grpc::SerializationTraits<ExecResponse>::Serialize(msg, &out, &own_buffer);
  return out;
}

// The ExecResponse{stdout|stderr: data} wire encoding as two slices: a small
// header and `data` itself, which the buffer takes ownership of (malloc'd;
// freed once the transport has sent it).
ByteBuffer OutputMessage(int field, char* data, size_t len) {
  uint8_t head[16];
  size_t n = 0;
  head[n++] = static_cast<uint8_t>(field << 3 | 2);  // length-delimited
  for (uint64_t v = len;; v >>= 7) {
    if (v < 0x80) {
      head[n++] = static_cast<uint8_t>(v);
      break;
    }
    head[n++] = static_cast<uint8_t>(v | 0x80);
  }
  grpc::Slice slices[2] = {grpc::Slice(head, n), grpc::Slice(data, len, free)};
  return ByteBuffer(slices, 2);
}

// Reads what fd has (up to kMaxChunk) into a new output message appended to
// `queue`. Returns false on EOF or error.
bool ReadOutput(int fd, int field, std::deque<ByteBuffer>* queue) {
  char* buf = static_cast<char*>(malloc(kMaxChunk));
  if (!buf) return true;  // try again later
  size_t len = 0;
  bool open = true;
  while (len < kMaxChunk) {
    ssize_t n = read(fd, buf + len, kMaxChunk - len);
    if (n > 0) {
      len += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    open = false;  // EOF or a real error
    break;
  }
  if (len == 0) {
    free(buf);
    return open;
  }
  if (len < kMaxChunk / 4) {  // do not hold megabytes for a line of output
    if (char* small = static_cast<char*>(realloc(buf, len))) buf = small;
  }
  queue->push_back(OutputMessage(field, buf, len));
  return open;
}

// What the gRPC callbacks and the reaper tell the session thread. Each
// change is followed by a write to `wake`. Shared by the reactor, the
// session thread and the reaper callback; outlives all three's use of it.
struct Mailbox {
  std::mutex mu;
  unique_fd wake{eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  ByteBuffer read_buf;              // target of the outstanding read
  std::optional<ByteBuffer> input;  // guarded by mu: a read not yet handled
  bool reads_ended = false;         // guarded by mu: half-close or cancel
  bool client_gone = false;         // guarded by mu: cancelled, or a write failed
  bool write_done = false;          // guarded by mu
  int wait_status = -1;             // guarded by mu: set by the reaper
  Clock::time_point reaped;         // guarded by mu
  ByteBuffer final_message;         // lives until OnDone (StartWriteAndFinish)

  void Notify() {
    uint64_t one = 1;
    (void)!write(wake.get(), &one, sizeof one);
  }
};

using Reactor = grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>;

// The work of one call, on its own thread. Only this thread starts reads
// and writes (one of each at a time) and finishes the call; after Finish it
// no longer touches the reactor, which may be gone.
class Session {
 public:
  Session(Reactor* reactor, std::shared_ptr<Mailbox> box)
      : reactor_(reactor), box_(std::move(box)) {}
  ~Session() {
    if (notices_) NoticeBoard::Instance().Unregister(cgroup_->id());
    // cgroup_ goes last, after the reply (back to the spare pool, or removed).
  }
  void Run(ExecRequest first);

 private:
  void FailBeforeStart(const std::string& message, int code);
  void KillAll();
  // Reads the mailbox: input, cancellation, write completion, exit status.
  void HandleMail();
  void HandleInput(ByteBuffer buf);
  void NextRead();
  void FlushStdin();
  bool StdinPending() const { return stdin_written_ < pending_stdin_.size(); }
  void Pump();
  // Waits until everything queued is written (or the client is gone).
  void Flush();
  void WaitWake(int timeout_ms);
  // Ends the command's bulk output (if it has the port): the end marker goes
  // after every writer is gone. Says in `exit` whether it was written.
  void EndBulk(workspace::v1::ExecExit* exit);
  void Finish(ExecResponse exit);

  Reactor* reactor_;
  std::shared_ptr<Mailbox> box_;
  std::unique_ptr<ExecCgroup> cgroup_;
  std::unique_ptr<BulkClaim> bulk_;  // the command's stdout is the bulk port
  Clock::duration bulk_claim_time_{};
  std::shared_ptr<NoticeBoard::Box> notices_;
  pid_t pid_ = -1;
  bool tty_ = false;
  unique_fd stdin_fd_;
  std::string pending_stdin_;  // waits for the command to read, from stdin_written_
  size_t stdin_written_ = 0;
  bool reading_ = false, reads_ended_ = false;
  std::deque<ByteBuffer> out_queue_;
  ByteBuffer in_flight_;
  bool writing_ = false;
  bool client_gone_ = false;
  std::optional<int> wait_status_;
  Clock::time_point reaped_;
};

void Session::FailBeforeStart(const std::string& message, int code) {
  ExecResponse err;
  err.set_stderr("workspace: " + message + "\n");
  out_queue_.push_back(Serialize(err));
  Flush();
  ExecResponse exit;
  exit.mutable_exit()->set_code(code);
  Finish(std::move(exit));
}

void Session::KillAll() {
  if (cgroup_) cgroup_->Kill();
  if (pid_ > 0) kill(-pid_, SIGKILL);
}

void Session::WaitWake(int timeout_ms) {
  pollfd p = {box_->wake.get(), POLLIN, 0};
  poll(&p, 1, timeout_ms);
  HandleMail();
}

void Session::HandleMail() {
  uint64_t v;
  (void)!read(box_->wake.get(), &v, sizeof v);
  std::optional<ByteBuffer> input;
  bool gone, write_done, reads_ended;
  {
    std::lock_guard lock(box_->mu);
    input.swap(box_->input);
    gone = box_->client_gone;
    write_done = std::exchange(box_->write_done, false);
    reads_ended = box_->reads_ended;
    if (!wait_status_ && box_->wait_status >= 0) {
      wait_status_ = box_->wait_status;
      reaped_ = box_->reaped;
    }
  }
  if (write_done) writing_ = false;
  if (gone && !client_gone_) {
    client_gone_ = true;
    KillAll();
  }
  if (input) {
    reading_ = false;
    HandleInput(std::move(*input));
  }
  if (reads_ended && !reads_ended_) {
    reads_ended_ = true;
    reading_ = false;
    if (!StdinPending()) stdin_fd_.reset();  // the host finished writing: EOF for the command
  }
  Pump();
}

void Session::HandleInput(ByteBuffer buf) {
  ExecRequest req;
  if (!grpc::SerializationTraits<ExecRequest>::Deserialize(&buf, &req).ok() || !req.has_input()) {
    return NextRead();
  }
  auto& in = *req.mutable_input();
  if (in.has_stdin()) {
    // Held until the command reads it: the sender slows down instead of
    // this agent buffering more than one message.
    if (stdin_fd_) {
      pending_stdin_.swap(*in.mutable_stdin());
      stdin_written_ = 0;
    }
    return FlushStdin();
  }
  if (in.has_close_stdin()) {
    // On a terminal, end of input is the EOF character, as typed.
    if (tty_ && stdin_fd_) (void)!write(stdin_fd_.get(), "\x04", 1);
    if (!tty_) stdin_fd_.reset();
  } else if (in.has_signal()) {
    int sig = in.signal();
    if (sig > 0 && sig < NSIG) kill(-pid_, sig);
  } else if (in.has_resize() && tty_ && stdin_fd_) {
    winsize ws = {static_cast<unsigned short>(in.resize().rows()),
                  static_cast<unsigned short>(in.resize().cols()), 0, 0};
    ioctl(stdin_fd_.get(), TIOCSWINSZ, &ws);
  }
  NextRead();
}

// Writes what the command will take of the pending input; the next message
// is read once all of it is in.
void Session::FlushStdin() {
  while (StdinPending() && stdin_fd_) {
    ssize_t n = write(stdin_fd_.get(), pending_stdin_.data() + stdin_written_,
                      pending_stdin_.size() - stdin_written_);
    if (n > 0) {
      stdin_written_ += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;  // poll for POLLOUT
    } else {
      stdin_fd_.reset();  // the command closed its input
    }
  }
  pending_stdin_.clear();
  stdin_written_ = 0;
  if (reads_ended_) {
    stdin_fd_.reset();
  } else {
    NextRead();
  }
}

void Session::NextRead() {
  if (reading_ || reads_ended_ || client_gone_) return;
  reading_ = true;
  reactor_->StartRead(&box_->read_buf);
}

void Session::Pump() {
  if (writing_ || out_queue_.empty() || client_gone_) return;
  in_flight_ = std::move(out_queue_.front());
  out_queue_.pop_front();
  writing_ = true;
  reactor_->StartWrite(&in_flight_);
}

void Session::Flush() {
  while (!client_gone_ && (writing_ || !out_queue_.empty())) {
    Pump();
    WaitWake(100);
  }
}

void Session::EndBulk(workspace::v1::ExecExit* exit) {
  if (!bulk_) return;
  const auto start = Clock::now();
  // The command's group was killed once it exited; what it left behind
  // could still write to the port while the kernel reaps it.
  if (cgroup_) cgroup_->WaitEmpty(std::chrono::seconds(1));
  const bool written = bulk_->WriteEnd([&] {
    HandleMail();
    // A client that is gone no longer waits for the output, but the host's
    // reader still drains it: the next exec's stream starts clean.
    return client_gone_ && Clock::now() - start > std::chrono::seconds(2);
  });
  exit->set_bulk(written);
  bulk_.reset();
  auto us = [](Clock::duration d) {
    return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  };
  exit->mutable_timing()->set_bulk_claim_us(us(bulk_claim_time_));
  exit->mutable_timing()->set_bulk_end_us(us(Clock::now() - start));
}

void Session::Finish(ExecResponse exit) {
  EndBulk(exit.mutable_exit());
  // A cancelled call still has its last write complete (with ok false).
  while (writing_) WaitWake(100);
  if (client_gone_) {
    reactor_->Finish(grpc::Status::CANCELLED);
    return;
  }
  box_->final_message = Serialize(exit);
  reactor_->StartWriteAndFinish(&box_->final_message, grpc::WriteOptions(), grpc::Status::OK);
}

void Session::Run(ExecRequest first) {
  const auto received = Clock::now();
  const ExecStart& start = first.start();
  SpawnSpec spec;
  std::string error;
  int code = 0;
  if (!PrepareSpawn(start, &spec, &error, &code)) return FailBeforeStart(error, code);

  const auto cgroup_at = Clock::now();
  cgroup_ = ExecCgroup::Create();
  spec.cgroup_procs_fd = cgroup_ ? cgroup_->procs_fd() : -1;
  // Only with a cgroup: the end marker must follow every writer's exit.
  if (cgroup_ && !spec.tty && !start.bulk_tag().empty()) {
    const auto claim_at = Clock::now();
    bulk_ = BulkPort::Claim(start.bulk_tag());
    bulk_claim_time_ = Clock::now() - claim_at;
  }
  if (bulk_) spec.stdout_fd = bulk_->fd();
  const auto spawn_at = Clock::now();
  auto child = Spawn(spec);
  if (!child.ok())
    return FailBeforeStart(child.status().message(), ExitCodeForSpawnError(child.status()));
  pid_ = child->pid;
  tty_ = spec.tty;
  const auto spawned = Clock::now();
  Reaper::Instance().Watch(pid_, [box = box_](int status) {
    {
      std::lock_guard lock(box->mu);
      box->wait_status = status;
      box->reaped = Clock::now();
    }
    box->Notify();
  });
  stdin_fd_ = std::move(child->stdin_fd);
  if (stdin_fd_) SetNonBlocking(stdin_fd_.get());
  NextRead();

  unique_fd out = std::move(child->stdout_fd), err = std::move(child->stderr_fd);
  const auto deadline = start.timeout_seconds() > 0
                            ? Clock::now() + std::chrono::seconds(start.timeout_seconds())
                            : Clock::time_point::max();
  // Refused connections this exec made are reported on its stderr.
  if (cgroup_) notices_ = NoticeBoard::Instance().Register(cgroup_->id());
  std::optional<Clock::time_point> exited_at;
  bool timed_out = false;
  std::vector<std::string> held_notices;  // -t: given with the exit
  uint32_t dropped_notices = 0;

  // With the bulk port there is no stdout pipe to wait for: the command may
  // close stderr and still run (its timeout and stdin are served here).
  while ((out.valid() || err.valid() || (bulk_ && !wait_status_)) && !client_gone_) {
    if (exited_at && Clock::now() - *exited_at > kDrainGrace) break;
    // One message ready ahead of the one being written, no more: a host that
    // does not read stops the command at its pipe.
    const short want_output = out_queue_.empty() ? POLLIN : 0;
    pollfd fds[5] = {{out.get(), want_output, 0},
                     {err.get(), want_output, 0},
                     {box_->wake.get(), POLLIN, 0},
                     {notices_ ? notices_->event.get() : -1, POLLIN, 0},
                     {StdinPending() ? stdin_fd_.get() : -1, POLLOUT, 0}};
    int n = poll(fds, 5, 100);
    if (n < 0 && errno != EINTR) break;
    if (fds[2].revents & POLLIN) HandleMail();
    if (client_gone_) break;
    if (!timed_out && Clock::now() >= deadline) {
      timed_out = true;
      KillAll();
    }
    if (wait_status_ && !exited_at) {
      KillAll();  // the command ended: what it left behind goes too
      exited_at = Clock::now();
    }
    if (fds[4].revents & (POLLOUT | POLLERR | POLLHUP)) FlushStdin();
    if (fds[3].revents & POLLIN) {
      for (auto& line : NoticeBoard::Take(*notices_)) {
        // On a terminal a line in the middle would garble the program's
        // screen: they are held (bounded) and given with the exit.
        if (start.tty()) {
          if (held_notices.size() < kHeldNotices) {
            held_notices.push_back(std::move(line));
          } else {
            ++dropped_notices;
          }
          continue;
        }
        ExecResponse msg;
        msg.set_stderr(line);
        out_queue_.push_back(Serialize(msg));
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      unique_fd& fd = i == 0 ? out : err;
      const int field =
          i == 0 ? ExecResponse::kStdoutFieldNumber : ExecResponse::kStderrFieldNumber;
      if (!ReadOutput(fd.get(), field, &out_queue_)) fd.reset();
    }
    Pump();
  }

  Flush();  // the exit message comes after all output
  // Wait for the exit status (the group was killed if we stopped early).
  while (!wait_status_) {
    WaitWake(100);
    if (client_gone_) KillAll();
  }
  const int status = *wait_status_;
  ExecResponse exit;
  auto* e = exit.mutable_exit();
  if (WIFSIGNALED(status)) {
    e->set_signal(WTERMSIG(status));
  } else {
    e->set_code(WEXITSTATUS(status));
  }
  e->set_timed_out(timed_out);
  for (auto& n : held_notices) e->add_notices(std::move(n));
  e->set_notices_dropped(dropped_notices);
  auto us = [](Clock::duration d) {
    return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  };
  e->mutable_timing()->set_setup_us(us(spawned - received));
  e->mutable_timing()->set_cgroup_us(us(spawn_at - cgroup_at));
  e->mutable_timing()->set_spawn_us(us(spawned - spawn_at));
  e->mutable_timing()->set_run_us(us(reaped_ - spawned));
  e->mutable_timing()->set_drain_us(us(Clock::now() - reaped_));
  Finish(std::move(exit));
}

class ExecReactor final : public Reactor {
 public:
  ExecReactor() : box_(std::make_shared<Mailbox>()) { StartRead(&box_->read_buf); }

  void OnReadDone(bool ok) override {
    if (!started_) {
      started_ = true;
      ExecRequest first;
      if (!ok ||
          !grpc::SerializationTraits<ExecRequest>::Deserialize(&box_->read_buf, &first).ok() ||
          !first.has_start()) {
        return Finish({grpc::StatusCode::INVALID_ARGUMENT, "the first Exec message must be start"});
      }
      if (first.start().argv().empty() && !first.start().login_shell()) {
        return Finish({grpc::StatusCode::INVALID_ARGUMENT, "empty argv"});
      }
      SessionThreads::Run(
          [this, box = box_, first = std::make_shared<ExecRequest>(std::move(first))] {
            Session(this, box).Run(std::move(*first));
          });
      return;
    }
    {
      std::lock_guard lock(box_->mu);
      if (ok) {
        box_->input.emplace();
        box_->input->Swap(&box_->read_buf);
      } else {
        box_->reads_ended = true;
      }
    }
    box_->Notify();
  }
  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(box_->mu);
      box_->write_done = true;
      if (!ok) box_->client_gone = true;
    }
    box_->Notify();
  }
  void OnCancel() override {
    {
      std::lock_guard lock(box_->mu);
      box_->client_gone = true;
    }
    box_->Notify();
  }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<Mailbox> box_;
  bool started_ = false;  // only the first read's callback reads this
};

}  // namespace

Reactor* NewExecSession(grpc::CallbackServerContext*) { return new ExecReactor(); }

}  // namespace ws::agent
