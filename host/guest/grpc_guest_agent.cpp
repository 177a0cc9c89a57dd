#include "host/guest/grpc_guest_agent.h"

#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "host/common/cancel_watch.h"
#include "host/common/grpc_status.h"
#include "host/common/printable.h"
#include "host/common/unix_socket.h"
#include "workspace/v1/agent.grpc.pb.h"

namespace ws::guest {

namespace v1 = workspace::v1;

struct GrpcGuestAgent::Wire {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::GuestAgent::Stub> stub;
};

namespace {

using Clock = std::chrono::system_clock;

// The agent's answer in our words: its code (the one gRPC -> Status
// mapping), and its message cleaned and bounded (the guest wrote it); a
// transport that failed says so. `what` prefixes the message when given.
Status FromAgent(const grpc::Status& s, const std::string& what) {
  const Status mapped = FromGrpc(s);
  const std::string prefix = what.empty() ? "" : what + ": ";
  switch (mapped.code()) {
    case Code::kOk:
      return Status::Ok();
    case Code::kDeadlineExceeded:
      return {mapped.code(), prefix + "the guest agent did not answer in time"};
    case Code::kUnavailable:
      return {mapped.code(), prefix + "the guest agent connection is down"};
    case Code::kInvalidArgument:
    case Code::kNotFound:
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kPermissionDenied:
    case Code::kResourceExhausted:
    case Code::kInternal:
      return {mapped.code(), prefix + GuestText(s.error_message())};
  }
  return {Code::kInternal, prefix + GuestText(s.error_message())};
}

// Marks the connection broken when `s` says the transport is gone. The
// agent never answers UNAVAILABLE or INTERNAL itself, so those are gRPC's;
// not DEADLINE_EXCEEDED: a slow guest is not a dead transport.
void Observe(GuestAgent& agent, const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::INTERNAL) {
    agent.MarkBroken();
  }
}

// The agent's exit message checked: false when it is not one the agent may
// send (a code out of 0..255, a signal out of 1..64, neither).
bool ToExecEnd(const v1::ExecExit& e, ExecEnd* end) {
  switch (e.status_case()) {
    case v1::ExecExit::kCode:
      if (e.code() < 0 || e.code() > 255) return false;
      end->code = e.code();
      break;
    case v1::ExecExit::kSignal:
      if (e.signal() < 1 || e.signal() > 64) return false;
      end->signal = e.signal();
      break;
    case v1::ExecExit::STATUS_NOT_SET:
      return false;
  }
  end->timed_out = e.timed_out();
  end->bulk = e.bulk();
  // Notices held from a -t session: bounded as the agent promises.
  const int kept = std::min(e.notices_size(), 20);
  for (int i = 0; i < kept; ++i) {
    std::string n = e.notices(i).substr(0, 1024);
    while (!n.empty() && n.back() == '\n') n.pop_back();
    end->notices.push_back(GuestText(n));
  }
  end->notices_dropped = e.notices_dropped() + static_cast<uint32_t>(e.notices_size() - kept);
  const auto& t = e.timing();
  end->timing = {t.setup_us(), t.cgroup_us(),     t.spawn_us(),   t.run_us(),
                 t.drain_us(), t.bulk_claim_us(), t.bulk_end_us()};
  return true;
}

// What every call to the agent holds: the connection (alive while the call
// is), the stub, the call's context (outliving the call's stream, which the
// derived class holds) and its one start.
struct CallState {
  CallState(std::shared_ptr<GrpcGuestAgent> a, v1::GuestAgent::Stub& s)
      : agent(std::move(a)), stub(s) {}
  // How the call ended, in our words; a transport that broke marks the
  // connection.
  Status Ended(const grpc::Status& s, const std::string& what) {
    Observe(*agent, s);
    return FromAgent(s, what);
  }
  std::shared_ptr<GrpcGuestAgent> agent;
  v1::GuestAgent::Stub& stub;
  grpc::ClientContext ctx;
  std::once_flag started;
};

// Every call below starts on its first use, not when it is made: the owner
// can register it for cancellation first, and a Cancel before the start
// cancels the call as it starts (a guest that does not read its channel
// cannot hold the thread that opens a call).
class GrpcExecCall final : public ExecCall, private CallState {
 public:
  GrpcExecCall(std::shared_ptr<GrpcGuestAgent> agent, v1::GuestAgent::Stub& stub,
               const ExecSpec& spec)
      : CallState(std::move(agent), stub) {
    auto* s = start_.mutable_start();
    for (const auto& a : spec.argv) s->add_argv(a);
    for (const auto& kv : spec.env) s->add_env(kv);
    s->set_cwd(spec.cwd);
    s->set_user(spec.user);
    s->set_timeout_seconds(spec.timeout_seconds);
    s->set_attach_stdin(spec.attach_stdin);
    s->set_tty(spec.tty);
    s->set_term(spec.term);
    if (spec.rows || spec.cols) {
      s->mutable_window()->set_rows(spec.rows);
      s->mutable_window()->set_cols(spec.cols);
    }
    s->set_login_shell(spec.login_shell);
    s->set_bulk_tag(spec.bulk_tag);
  }
  bool Write(const ExecInput& in) override {
    if (!Start()) return false;
    v1::ExecRequest r;
    auto* m = r.mutable_input();
    switch (in.kind) {
      case ExecInput::Kind::kStdin:
        m->set_stdin(in.data);
        break;
      case ExecInput::Kind::kCloseStdin:
        m->set_close_stdin(true);
        break;
      case ExecInput::Kind::kSignal:
        m->set_signal(in.signal);
        break;
      case ExecInput::Kind::kResize:
        m->mutable_resize()->set_rows(in.rows);
        m->mutable_resize()->set_cols(in.cols);
        break;
    }
    return stream_->Write(r);
  }
  void CloseWrite() override {
    if (Start()) stream_->WritesDone();
  }
  bool Read(ExecEvent* event) override {
    Start();  // a failed start write shows as the end of the call
    v1::ExecResponse m;
    if (!stream_->Read(&m)) return false;
    switch (m.kind_case()) {
      case v1::ExecResponse::kStdout:
        event->kind = ExecEvent::Kind::kStdout;
        event->data = std::move(*m.mutable_stdout());
        return true;
      case v1::ExecResponse::kStderr:
        event->kind = ExecEvent::Kind::kStderr;
        event->data = std::move(*m.mutable_stderr());
        return true;
      case v1::ExecResponse::kExit:
        event->kind = ExecEvent::Kind::kExit;
        event->end = ExecEnd();
        if (ToExecEnd(m.exit(), &event->end)) return true;
        break;
      case v1::ExecResponse::KIND_NOT_SET:
        break;
    }
    ctx.TryCancel();  // not a message the agent may send
    return false;
  }
  void Cancel() override { ctx.TryCancel(); }
  Status Finish() override {
    Start();
    grpc::Status s = stream_->Finish();
    return Ended(s, "");
  }

 private:
  // Opens the call and writes the start, once; false when the write failed.
  bool Start() {
    std::call_once(started, [&] {
      stream_ = stub.Exec(&ctx);
      start_ok_ = stream_->Write(start_);
    });
    return start_ok_;
  }

  v1::ExecRequest start_;
  bool start_ok_ = false;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ExecRequest, v1::ExecResponse>> stream_;
};

class GrpcTreeSource final : public TreeSource, private CallState {
 public:
  GrpcTreeSource(std::shared_ptr<GrpcGuestAgent> agent, v1::GuestAgent::Stub& stub,
                 const std::string& path)
      : CallState(std::move(agent), stub) {
    req_.set_path(path);
  }
  bool Read(v1::TreeChunk* chunk) override { return Start().Read(chunk); }
  void Cancel() override { ctx.TryCancel(); }
  Status Finish() override {
    grpc::Status s = Start().Finish();
    return Ended(s, "");
  }

 private:
  grpc::ClientReader<v1::TreeChunk>& Start() {
    std::call_once(started, [&] { reader_ = stub.ReadTree(&ctx, req_); });
    return *reader_;
  }

  v1::ReadTreeRequest req_;
  std::unique_ptr<grpc::ClientReader<v1::TreeChunk>> reader_;
};

class GrpcTreeSink final : public TreeSink, private CallState {
 public:
  GrpcTreeSink(std::shared_ptr<GrpcGuestAgent> agent, v1::GuestAgent::Stub& stub)
      : CallState(std::move(agent), stub) {}
  bool Write(const v1::TreeChunk& chunk) override { return Start().Write(chunk); }
  void Cancel() override { ctx.TryCancel(); }
  Result<TreeWritten> Finish() override {
    Start().WritesDone();
    grpc::Status s = Start().Finish();
    if (!s.ok()) return Ended(s, "");
    return TreeWritten{GuestText(resp_.root(), 4096), resp_.entries(), resp_.bytes()};
  }

 private:
  grpc::ClientWriter<v1::TreeChunk>& Start() {
    std::call_once(started, [&] { writer_ = stub.WriteTree(&ctx, &resp_); });
    return *writer_;
  }

  v1::WriteTreeResponse resp_;
  std::unique_ptr<grpc::ClientWriter<v1::TreeChunk>> writer_;
};

class GrpcEgressWatch final : public EgressWatch, private CallState {
 public:
  GrpcEgressWatch(std::shared_ptr<GrpcGuestAgent> agent, v1::GuestAgent::Stub& stub)
      : CallState(std::move(agent), stub) {}
  bool Next(EgressAttempt* a) override {
    v1::EgressRequest req;
    if (!Start().Read(&req)) return false;
    // Cut before anything copies them, then cleaned: an attempt holds a
    // few KiB whatever the guest sent.
    a->id = req.id();
    a->host = GuestText(req.host(), kMaxEgressHost + 1);
    a->port = req.port();
    a->method = GuestText(req.method(), kMaxEgressField);
    a->pid = req.pid();
    a->command = GuestText(req.command(), kMaxEgressField);
    a->exec_id = GuestText(req.exec_id(), kMaxEgressField);
    a->head = req.head().substr(0, kMaxEgressHead);
    return true;
  }
  void Cancel() override { ctx.TryCancel(); }
  Status Finish() override {
    grpc::Status s = Start().Finish();
    return Ended(s, "egress watch");
  }

 private:
  grpc::ClientReader<v1::EgressRequest>& Start() {
    std::call_once(started, [&] { reader_ = stub.WatchEgress(&ctx, v1::WatchEgressRequest()); });
    return *reader_;
  }

  std::unique_ptr<grpc::ClientReader<v1::EgressRequest>> reader_;
};

// A Tunnel or Forward call's data, as a ByteStream.
class GrpcByteStream final : public ByteStream, private CallState {
 public:
  // `open` makes the call on the context; `first` is written before any data.
  using OpenFn =
      std::function<std::unique_ptr<grpc::ClientReaderWriter<v1::TunnelMessage, v1::TunnelMessage>>(
          grpc::ClientContext*)>;
  GrpcByteStream(std::shared_ptr<GrpcGuestAgent> agent, v1::GuestAgent::Stub& stub, OpenFn open,
                 v1::TunnelMessage first)
      : CallState(std::move(agent), stub), open_(std::move(open)), first_(std::move(first)) {}
  bool Read(std::string* data) override {
    Start();  // a failed first write shows as the end of the stream
    v1::TunnelMessage m;
    while (stream_->Read(&m)) {
      if (!m.has_data()) continue;
      *data = std::move(*m.mutable_data());
      return true;
    }
    return false;
  }
  bool Write(std::string_view data) override {
    if (!Start()) return false;
    v1::TunnelMessage m;
    m.set_data(data.data(), data.size());
    return stream_->Write(m);
  }
  void CloseWrite() override {
    if (Start()) stream_->WritesDone();
  }
  void Cancel() override { ctx.TryCancel(); }
  Status Finish() override {
    Start();
    grpc::Status s = stream_->Finish();
    return Ended(s, "");
  }

 private:
  bool Start() {
    std::call_once(started, [&] {
      stream_ = open_(&ctx);
      first_ok_ = stream_->Write(first_);
    });
    return first_ok_;
  }

  OpenFn open_;
  v1::TunnelMessage first_;
  bool first_ok_ = false;
  std::unique_ptr<grpc::ClientReaderWriter<v1::TunnelMessage, v1::TunnelMessage>> stream_;
};

}  // namespace

GrpcGuestAgent::GrpcGuestAgent(std::unique_ptr<Wire> wire) : wire_(std::move(wire)) {}
GrpcGuestAgent::~GrpcGuestAgent() = default;

Result<std::shared_ptr<GrpcGuestAgent>> GrpcGuestAgent::Connect(
    unique_fd agent_fd, const std::function<Result<unique_fd>()>& dial_bulk,
    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (!agent_fd) return Status(Code::kUnavailable, "guest agent: no connection");
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxAgentMessage);
  args.SetMaxSendMessageSize(kMaxAgentMessage);
  auto wire = std::make_unique<Wire>();
  wire->channel =
      grpc::CreateCustomInsecureChannelFromFd("workspace-agent", agent_fd.release(), args);
  wire->stub = v1::GuestAgent::NewStub(wire->channel);
  std::shared_ptr<GrpcGuestAgent> agent(new GrpcGuestAgent(std::move(wire)));

  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  ctx.set_wait_for_ready(true);
  v1::InfoRequest req;
  v1::InfoResponse resp;
  grpc::Status s = agent->wire_->stub->Info(&ctx, req, &resp);
  if (!s.ok()) return FromAgent(s, "guest agent handshake");
  if (resp.protocol_version() != v1::PROTOCOL_VERSION_CURRENT) {
    return Status(Code::kFailedPrecondition,
                  "the guest agent speaks protocol " + std::to_string(resp.protocol_version()) +
                      " (agent " + GuestText(resp.agent_version(), 256) + "), this host speaks " +
                      std::to_string(v1::PROTOCOL_VERSION_CURRENT) +
                      "; rebuild the image with ./scripts/setup");
  }
  // After the handshake: QEMU takes one client per socket, and an attempt
  // that failed must not hold the port.
  if (auto bulk = dial_bulk(); bulk.ok()) agent->bulk_ = BulkReader::Open(std::move(bulk.value()));
  return agent;
}

Result<AgentInfo> GrpcGuestAgent::Info(std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Clock::now() + timeout);
  v1::InfoRequest req;
  v1::InfoResponse resp;
  grpc::Status s = wire_->stub->Info(&ctx, req, &resp);
  Observe(*this, s);
  if (!s.ok()) return FromAgent(s, "guest info");
  AgentInfo info;
  info.agent_version = GuestText(resp.agent_version(), 256);
  info.kernel_release = GuestText(resp.kernel_release(), 256);
  info.hostname = GuestText(resp.hostname(), 256);
  info.uptime_seconds = resp.uptime_seconds();
  return info;
}

Status GrpcGuestAgent::Shutdown(std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Clock::now() + timeout);
  v1::ShutdownRequest req;
  v1::ShutdownResponse resp;
  grpc::Status s = wire_->stub->Shutdown(&ctx, req, &resp);
  Observe(*this, s);
  return FromAgent(s, "guest shutdown");
}

Status GrpcGuestAgent::Configure(const GuestSettings& settings, std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Clock::now() + timeout);
  v1::ConfigureRequest req;
  if (settings.identity) {
    const auto& id = *settings.identity;
    auto* out = req.mutable_identity();
    out->set_hostname(id.hostname);
    out->set_machine_id(id.machine_id);
    out->set_git_name(id.git_name);
    out->set_git_email(id.git_email);
    for (const auto& sh : id.shares) {
      auto* m = out->add_shares();
      m->set_tag(sh.tag);
      m->set_guest_path(sh.guest_path);
      m->set_read_only(sh.read_only);
    }
    out->set_entropy(id.entropy);
    out->set_unix_time_ns(id.unix_time_ns);
  }
  req.set_ca_pem(settings.ca_pem);
  for (const auto& kv : settings.env) req.add_env(kv);
  for (const auto& f : settings.home_files) {
    auto* out = req.add_home_files();
    out->set_path(f.path);
    out->set_content(f.content);
    out->set_mode(f.mode);
  }
  v1::ConfigureResponse resp;
  grpc::Status s = wire_->stub->Configure(&ctx, req, &resp);
  Observe(*this, s);
  return FromAgent(s, "guest settings");
}

Status GrpcGuestAgent::Notify(const std::string& exec_id, const std::string& line,
                              std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Clock::now() + timeout);
  v1::NotifyRequest req;
  req.set_exec_id(exec_id);
  req.set_line(line);
  v1::NotifyResponse resp;
  grpc::Status s = wire_->stub->Notify(&ctx, req, &resp);
  Observe(*this, s);
  return FromAgent(s, "exec notice");
}

Result<RunExit> GrpcGuestAgent::Run(const RunSpec& spec,
                                    const std::function<void(std::string_view)>& on_output,
                                    const std::function<bool()>& cancelled) {
  ExecSpec exec;
  exec.argv = spec.argv;
  exec.env = spec.env;
  exec.cwd = spec.cwd;
  exec.user = spec.user;
  exec.timeout_seconds = static_cast<uint32_t>(spec.timeout.count());
  auto call = Exec(exec);
  std::optional<RunExit> exit;
  Status s;
  {
    // A command's output may pause for minutes: the watch, not a deadline,
    // ends a cancelled call.
    CancelWatch watch(
        cancelled, [&] { call->Cancel(); }, std::chrono::seconds(1));
    call->CloseWrite();
    ExecEvent ev;
    while (call->Read(&ev)) {
      switch (ev.kind) {
        case ExecEvent::Kind::kStdout:
        case ExecEvent::Kind::kStderr:
          on_output(ev.data);
          break;
        case ExecEvent::Kind::kExit:
          exit = RunExit{ev.end.signal ? 128 + ev.end.signal : ev.end.code, ev.end.timed_out};
          break;
      }
    }
    s = call->Finish();
  }
  if (cancelled()) return Status(Code::kUnavailable, "cancelled");
  if (!s.ok()) {
    return Status(s.code(), "running " + (spec.argv.empty() ? "" : GuestText(spec.argv[0], 256)) +
                                ": " + s.message());
  }
  if (!exit) return Status(Code::kInternal, "the guest agent sent no valid exit status");
  return *exit;
}

std::unique_ptr<ExecCall> GrpcGuestAgent::Exec(const ExecSpec& spec) {
  return std::make_unique<GrpcExecCall>(shared_from_this(), *wire_->stub, spec);
}

std::unique_ptr<TreeSource> GrpcGuestAgent::ReadTree(const std::string& guest_path) {
  return std::make_unique<GrpcTreeSource>(shared_from_this(), *wire_->stub, guest_path);
}

std::unique_ptr<TreeSink> GrpcGuestAgent::WriteTree() {
  return std::make_unique<GrpcTreeSink>(shared_from_this(), *wire_->stub);
}

std::unique_ptr<EgressWatch> GrpcGuestAgent::WatchEgress() {
  return std::make_unique<GrpcEgressWatch>(shared_from_this(), *wire_->stub);
}

std::unique_ptr<ByteStream> GrpcGuestAgent::AcceptTunnel(uint64_t id) {
  v1::TunnelMessage open;
  open.mutable_open()->set_id(id);
  open.mutable_open()->set_allow(true);
  auto* stub = wire_->stub.get();
  return std::make_unique<GrpcByteStream>(
      shared_from_this(), *stub, [stub](grpc::ClientContext* ctx) { return stub->Tunnel(ctx); },
      open);
}

Status GrpcGuestAgent::RefuseTunnel(uint64_t id, const std::string& reason,
                                    std::chrono::milliseconds timeout) {
  // A refusal is one message each way: a guest that never closes the call
  // gets it closed for it.
  grpc::ClientContext ctx;
  ctx.set_deadline(Clock::now() + timeout);
  auto stream = wire_->stub->Tunnel(&ctx);
  v1::TunnelMessage open;
  open.mutable_open()->set_id(id);
  open.mutable_open()->set_allow(false);
  open.mutable_open()->set_reason(reason);
  stream->Write(open);
  stream->WritesDone();
  grpc::Status s = stream->Finish();
  Observe(*this, s);
  return FromAgent(s, "refusing a connection");
}

std::unique_ptr<ByteStream> GrpcGuestAgent::Forward(uint16_t port) {
  v1::TunnelMessage open;
  open.mutable_forward()->set_port(port);
  auto* stub = wire_->stub.get();
  return std::make_unique<GrpcByteStream>(
      shared_from_this(), *stub, [stub](grpc::ClientContext* ctx) { return stub->Forward(ctx); },
      open);
}

BulkReader* GrpcGuestAgent::bulk() const { return bulk_ && bulk_->Alive() ? bulk_.get() : nullptr; }

}  // namespace ws::guest
