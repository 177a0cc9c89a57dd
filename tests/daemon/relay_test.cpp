// The daemon's relays against agents of our own making, no VM: a hostile
// agent served over gRPC on a unix socket (what a guest could send through
// the real GrpcGuestAgent adapter), the CLI's side a real Controller client
// of an in-process server running the daemon's relays.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "host/common/unix_socket.h"
#include "host/controller/copy_relay.h"
#include "host/controller/exec_relay.h"
#include "host/guest/grpc_guest_agent.h"
#include "workspace/v1/agent.grpc.pb.h"
#include "workspace/v1/controller.grpc.pb.h"

namespace ws::test {
namespace {

namespace v1 = workspace::v1;
using Clock = std::chrono::steady_clock;

const std::string kEscape = "\x1b]0;pwned\x07";

// What a hostile guest agent answers. Every call's error text is chosen by
// the test; Exec records the start it was sent.
class HostileAgent final : public v1::GuestAgent::Service {
 public:
  std::string error;       // the text of every error it returns
  bool hang_info = false;  // Info never answers (after the first call)
  std::atomic<int> infos{0};
  std::mutex mu;
  v1::ExecStart last_start;  // guarded by mu
  int notices = 0;           // notices in the exit message

  grpc::Status Info(grpc::ServerContext* ctx, const v1::InfoRequest*,
                    v1::InfoResponse* r) override {
    if (hang_info && infos++ > 0) {
      while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return grpc::Status::CANCELLED;
    }
    r->set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
    r->set_agent_version("hostile " + kEscape);
    return grpc::Status::OK;
  }
  grpc::Status Exec(grpc::ServerContext*,
                    grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* s) override {
    v1::ExecRequest req;
    if (!s->Read(&req)) return grpc::Status::CANCELLED;
    {
      std::lock_guard lock(mu);
      last_start = req.start();
    }
    if (!error.empty()) return {grpc::StatusCode::FAILED_PRECONDITION, error};
    v1::ExecResponse out;
    out.set_stdout("ran\n");
    s->Write(out);
    v1::ExecResponse exit;
    exit.mutable_exit()->set_code(0);
    for (int i = 0; i < notices; ++i)
      exit.mutable_exit()->add_notices(kEscape + std::string(5000, 'n'));
    s->Write(exit);
    return grpc::Status::OK;
  }
  grpc::Status ReadTree(grpc::ServerContext*, const v1::ReadTreeRequest*,
                        grpc::ServerWriter<v1::TreeChunk>*) override {
    return {grpc::StatusCode::NOT_FOUND, error};
  }
  grpc::Status WriteTree(grpc::ServerContext*, grpc::ServerReader<v1::TreeChunk>* in,
                         v1::WriteTreeResponse*) override {
    v1::TreeChunk c;
    while (in->Read(&c)) {
    }
    return {grpc::StatusCode::PERMISSION_DENIED, error};
  }
};

// The daemon's relays behind a Controller server, with one agent for every
// workspace name.
class RelayController final : public v1::Controller::Service {
 public:
  explicit RelayController(std::shared_ptr<guest::GuestAgent> agent)
      : lookup_([agent](const controller::Caller&,
                        const std::string&) -> Result<std::shared_ptr<guest::GuestAgent>> {
          return agent;
        }) {}
  grpc::Status Exec(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::WorkspaceExecResponse, v1::WorkspaceExecRequest>* s) override {
    return controller::RelayExec(lookup_, Me(), ctx, s);
  }
  grpc::Status CopyOut(grpc::ServerContext* ctx, const v1::CopyOutRequest* req,
                       grpc::ServerWriter<v1::TreeChunk>* out) override {
    return controller::RelayCopyOut(lookup_, Me(), ctx, *req, out);
  }
  grpc::Status CopyIn(grpc::ServerContext* ctx, grpc::ServerReader<v1::CopyInRequest>* in,
                      v1::WriteTreeResponse* resp) override {
    return controller::RelayCopyIn(lookup_, Me(), ctx, in, resp);
  }

 private:
  static controller::Caller Me() { return {getuid(), getgid(), getpid()}; }
  controller::AgentLookup lookup_;
};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ws-relay-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    grpc::ServerBuilder ab;
    ab.AddListeningPort("unix:" + dir_ + "/agent.sock", grpc::InsecureServerCredentials());
    ab.RegisterService(&hostile_);
    agent_server_ = ab.BuildAndStart();
    ASSERT_TRUE(agent_server_);
  }
  void TearDown() override {
    if (controller_server_)
      controller_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    agent_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    std::filesystem::remove_all(dir_);
  }
  Result<std::shared_ptr<guest::GrpcGuestAgent>> Connect(std::chrono::milliseconds timeout) {
    auto fd = ConnectUnix(dir_ + "/agent.sock", timeout);
    if (!fd.ok()) return fd.status();
    return guest::GrpcGuestAgent::Connect(
        std::move(fd.value()),
        [] { return Result<unique_fd>(Status(Code::kNotFound, "no bulk port")); }, timeout);
  }
  // The CLI's end: a Controller stub to the relays over the adapter.
  std::unique_ptr<v1::Controller::Stub> Cli() {
    auto agent = Connect(std::chrono::seconds(5));
    EXPECT_TRUE(agent.ok()) << agent.status().message();
    controller_ = std::make_unique<RelayController>(agent.value());
    grpc::ServerBuilder cb;
    cb.AddListeningPort("unix:" + dir_ + "/daemon.sock", grpc::InsecureServerCredentials());
    cb.RegisterService(controller_.get());
    controller_server_ = cb.BuildAndStart();
    return v1::Controller::NewStub(
        grpc::CreateChannel("unix:" + dir_ + "/daemon.sock", grpc::InsecureChannelCredentials()));
  }

  // What a terminal would be shown of `text`: no ESC, no BEL, no C1.
  static void ExpectClean(const std::string& text) {
    for (unsigned char c : text) {
      EXPECT_FALSE(c < 0x20 || c == 0x7f)
          << "control byte " << int(c) << " in: " << text.substr(0, 200);
    }
  }

  std::string dir_;
  HostileAgent hostile_;
  std::unique_ptr<grpc::Server> agent_server_;
  std::unique_ptr<RelayController> controller_;
  std::unique_ptr<grpc::Server> controller_server_;
};

TEST_F(RelayTest, AGuestsErrorTextReachesTheCliCleanedAndBounded) {
  hostile_.error = "no such file " + kEscape + std::string(4000, 'x');
  auto cli = Cli();
  {
    grpc::ClientContext ctx;
    v1::CopyOutRequest req;
    req.set_workspace("w");
    req.set_path("/etc/x");
    auto reader = cli->CopyOut(&ctx, req);
    v1::TreeChunk c;
    while (reader->Read(&c)) {
    }
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);  // the guest's code kept
    EXPECT_NE(s.error_message().find("no such file"), std::string::npos)
        << s.error_message();  // control: its words
    EXPECT_NE(s.error_message().find("\\x1b]0;pwned\\x07"), std::string::npos) << s.error_message();
    ExpectClean(s.error_message());
    EXPECT_LT(s.error_message().size(), 1200u);
  }
  {
    grpc::ClientContext ctx;
    v1::WriteTreeResponse resp;
    auto writer = cli->CopyIn(&ctx, &resp);
    v1::CopyInRequest start;
    start.mutable_start()->set_workspace("w");
    start.mutable_start()->mutable_target()->set_dest("/tmp");
    writer->Write(start);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(s.error_message().find("no such file"), std::string::npos);
    ExpectClean(s.error_message());
    EXPECT_LT(s.error_message().size(), 1200u);
  }
}

TEST_F(RelayTest, AMebibyteOfGuestErrorTextNeverReachesTheCliWhole) {
  hostile_.error = kEscape + std::string(1 << 20, 'x');
  auto cli = Cli();
  grpc::ClientContext ctx;
  v1::CopyOutRequest req;
  req.set_workspace("w");
  req.set_path("/etc/x");
  auto reader = cli->CopyOut(&ctx, req);
  v1::TreeChunk c;
  while (reader->Read(&c)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_FALSE(s.ok());
  ExpectClean(s.error_message());
  EXPECT_LT(s.error_message().size(), 1200u);
}

TEST_F(RelayTest, TheDaemonBuildsTheAgentsStartAndACliCannotSetItsBulkTag) {
  auto cli = Cli();
  grpc::ClientContext ctx;
  auto stream = cli->Exec(&ctx);
  v1::WorkspaceExecRequest start;
  start.mutable_start()->set_workspace("w");
  start.mutable_start()->add_argv("true");
  start.mutable_start()->set_user("dev");
  // What an old or hostile CLI could send: the agent's own start message,
  // bulk_tag set, in the field the CLI contract once copied through (2).
  v1::ExecStart smuggled;
  smuggled.add_argv("evil");
  smuggled.set_bulk_tag("0123456789abcdef");
  std::string inner;
  smuggled.SerializeToString(&inner);
  v1::WorkspaceExecStart parsed;
  std::string start_bytes;
  start.start().SerializeToString(&start_bytes);
  start_bytes += static_cast<char>((2 << 3) | 2);  // WorkspaceExecStart field 2
  start_bytes += static_cast<char>(inner.size());
  start_bytes += inner;
  ASSERT_TRUE(parsed.ParseFromString(start_bytes));
  v1::WorkspaceExecRequest crafted;
  *crafted.mutable_start() = parsed;  // keeps the unknown field 2 on the wire
  ASSERT_TRUE(stream->Write(crafted));
  stream->WritesDone();
  v1::WorkspaceExecResponse r;
  std::string out;
  bool exited = false;
  while (stream->Read(&r)) {
    if (r.has_stdout()) out += r.stdout();
    if (r.has_exit()) exited = true;
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(exited);
  EXPECT_EQ(out, "ran\n");
  std::lock_guard lock(hostile_.mu);
  ASSERT_EQ(hostile_.last_start.argv_size(), 1);  // control: the CLI's fields arrived
  EXPECT_EQ(hostile_.last_start.argv(0), "true");
  EXPECT_EQ(hostile_.last_start.user(), "dev");
  EXPECT_EQ(hostile_.last_start.bulk_tag(), "");  // the smuggled tag did not
}

TEST_F(RelayTest, HeldNoticesReachTheCliCleanedAndAtMostTwenty) {
  hostile_.notices = 30;
  auto cli = Cli();
  grpc::ClientContext ctx;
  auto stream = cli->Exec(&ctx);
  v1::WorkspaceExecRequest start;
  start.mutable_start()->set_workspace("w");
  start.mutable_start()->add_argv("true");
  ASSERT_TRUE(stream->Write(start));
  stream->WritesDone();
  v1::WorkspaceExecResponse r;
  std::optional<v1::WorkspaceExecExit> exit;
  while (stream->Read(&r)) {
    if (r.has_exit()) exit = r.exit();
  }
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->notices_size(), 20);
  EXPECT_EQ(exit->notices_dropped(), 10u);
  for (const auto& n : exit->notices()) {
    ExpectClean(n);
    EXPECT_NE(n.find("\\x1b]0;pwned"), std::string::npos);  // control: the guest's text, shown
    EXPECT_LT(n.size(), 1100u);
  }
}

TEST_F(RelayTest, AnExecTheAgentRefusesEndsWithItsCleanedReason) {
  hostile_.error = "cannot run " + kEscape;
  auto cli = Cli();
  grpc::ClientContext ctx;
  auto stream = cli->Exec(&ctx);
  v1::WorkspaceExecRequest start;
  start.mutable_start()->set_workspace("w");
  start.mutable_start()->add_argv("true");
  ASSERT_TRUE(stream->Write(start));
  stream->WritesDone();
  v1::WorkspaceExecResponse r;
  while (stream->Read(&r)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_message().find("cannot run"), std::string::npos) << s.error_message();
  ExpectClean(s.error_message());
}

TEST_F(RelayTest, AnAgentThatNeverAnswersFailsWithinItsDeadline) {
  // Control: the same agent answers a first handshake.
  hostile_.hang_info = true;
  auto first = Connect(std::chrono::seconds(5));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_NE(first.value()->Info(std::chrono::seconds(1)).status().code(), Code::kOk);
  const auto t0 = Clock::now();
  auto second = Connect(std::chrono::milliseconds(800));
  const auto took = Clock::now() - t0;
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kDeadlineExceeded) << second.status().message();
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace ws::test
