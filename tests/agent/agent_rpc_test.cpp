// The real workspace-agent binary, served on a unix socket (no VM): each
// GuestAgent RPC, fast. Integration tests cover the same agent in a VM.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/support/process.h"
#include "workspace/v1/agent.grpc.pb.h"

namespace ws::test {
namespace v1 = workspace::v1;

struct ExecResult {
  std::string out, err;
  v1::ExecExit exit;
  bool got_exit = false;
};

class AgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/ws-agent-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    socket_ = dir_ + "/agent.sock";
    pid_ = Spawn({std::string(WS_BIN_DIR) + "/workspace-agent", "--unix", socket_});
    for (int i = 0; i < 200 && access(socket_.c_str(), F_OK) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    channel_ = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }
  static void TearDownTestSuite() {
    delete channel_;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    ws::test::Run({"rm", "-rf", dir_});
  }

  std::unique_ptr<v1::GuestAgent::Stub> Stub() { return v1::GuestAgent::NewStub(*channel_); }

  ExecResult Exec(std::vector<std::string> argv, std::string stdin_data = "", bool attach = false,
                  uint32_t timeout = 0, std::string cwd = "", std::vector<std::string> env = {}) {
    auto stub = Stub();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto stream = stub->Exec(&ctx);
    v1::ExecRequest start;
    for (auto& a : argv) start.mutable_start()->add_argv(a);
    for (auto& e : env) start.mutable_start()->add_env(e);
    start.mutable_start()->set_attach_stdin(attach);
    start.mutable_start()->set_timeout_seconds(timeout);
    start.mutable_start()->set_cwd(cwd);
    EXPECT_TRUE(stream->Write(start));
    if (!stdin_data.empty()) {
      v1::ExecRequest in;
      in.mutable_input()->set_stdin(stdin_data);
      EXPECT_TRUE(stream->Write(in));
    }
    stream->WritesDone();
    ExecResult r;
    v1::ExecResponse resp;
    while (stream->Read(&resp)) {
      if (resp.has_stdout()) r.out += resp.stdout();
      if (resp.has_stderr()) r.err += resp.stderr();
      if (resp.has_exit()) {
        r.exit = resp.exit();
        r.got_exit = true;
      }
    }
    EXPECT_TRUE(stream->Finish().ok());
    return r;
  }

  static inline std::string dir_, socket_;
  static inline int pid_ = -1;
  static inline std::shared_ptr<grpc::Channel>* channel_ = nullptr;
};

TEST_F(AgentTest, InfoReportsProtocolVersionAndKernel) {
  grpc::ClientContext ctx;
  v1::InfoResponse resp;
  ASSERT_TRUE(Stub()->Info(&ctx, v1::InfoRequest(), &resp).ok());
  EXPECT_EQ(resp.protocol_version(), static_cast<uint32_t>(v1::PROTOCOL_VERSION_CURRENT));
  EXPECT_EQ(resp.agent_version(), WS_VERSION);
  EXPECT_FALSE(resp.kernel_release().empty());
  EXPECT_GT(resp.uptime_seconds(), 0);
}

TEST_F(AgentTest, ExecKeepsStdoutAndStderrApartAndReturnsTheCode) {
  auto r = Exec({"sh", "-c", "echo out; echo err >&2; exit 7"});
  ASSERT_TRUE(r.got_exit);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.exit.code(), 7);
}

TEST_F(AgentTest, ExecReportsTheKillingSignal) {
  auto r = Exec({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(r.got_exit);
  EXPECT_EQ(r.exit.status_case(), v1::ExecExit::kSignal);
  EXPECT_EQ(r.exit.signal(), 9);
}

TEST_F(AgentTest, MissingCommandIs127AndNonExecutableIs126) {
  auto missing = Exec({"no-such-command-xyz"});
  EXPECT_EQ(missing.exit.code(), 127);
  EXPECT_NE(missing.err.find("no-such-command-xyz"), std::string::npos);
  std::string file = dir_ + "/not-executable";
  std::ofstream(file) << "#!/bin/sh\necho hi\n";
  chmod(file.c_str(), 0644);
  EXPECT_EQ(Exec({file}).exit.code(), 126);
  EXPECT_EQ(Exec({dir_}).exit.code(), 126) << "a directory cannot run";
}

TEST_F(AgentTest, StdinIsForwardedBinarySafeAndClosedAtTheEnd) {
  std::string data("a\0b\xff\n", 5);
  auto r = Exec({"cat"}, data, true);
  EXPECT_EQ(r.out, data);
  EXPECT_EQ(r.exit.code(), 0);
  // Without attach_stdin the command reads /dev/null.
  EXPECT_EQ(Exec({"cat"}).out, "");
}

TEST_F(AgentTest, TimeoutKillsTheCommandAndSaysSo) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = Exec({"sleep", "30"}, "", false, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_TRUE(r.exit.timed_out());
  EXPECT_EQ(r.exit.signal(), 9);
}

TEST_F(AgentTest, BackgroundChildrenDoNotOutliveTheCommand) {
  auto r = Exec({"sh", "-c", "sleep 100 & echo $!"});
  ASSERT_EQ(r.exit.code(), 0);
  int pid = std::stoi(r.out);
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_s, comm, state;
    gone = !(stat >> pid_s >> comm >> state) || state == "Z";
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "sleep " << pid << " survived its exec";
}

TEST_F(AgentTest, CwdAndEnvAreApplied) {
  auto r = Exec({"sh", "-c", "pwd; echo $FOO"}, "", false, 0, "/tmp", {"FOO=bar baz"});
  EXPECT_EQ(r.out, "/tmp\nbar baz\n");
  auto missing = Exec({"true"}, "", false, 0, "/no/such/dir");
  EXPECT_EQ(missing.exit.code(), 126);
  EXPECT_NE(missing.err.find("/no/such/dir"), std::string::npos);
}

TEST_F(AgentTest, LargeOutputArrivesComplete) {
  auto r = Exec({"sh", "-c", "dd if=/dev/zero bs=65536 count=160 2>/dev/null"});
  EXPECT_EQ(r.out.size(), 65536u * 160);
  EXPECT_EQ(r.exit.code(), 0);
}

// Output goes out as a protobuf header slice plus the data (no copy): sizes
// on each side of the length varint's 1-, 2- and 3-byte forms arrive exact,
// and 3 MiB of stdin (written into a 1 MiB pipe from an offset, partially)
// comes back through cat byte for byte.
TEST_F(AgentTest, OutputOfEverySizeAndLargeStdinArriveExact) {
  for (int n : {1, 127, 128, 200, 16383, 16384, 70000}) {
    auto r = Exec({"sh", "-c", "head -c " + std::to_string(n) + " /dev/zero | tr '\\0' x"});
    EXPECT_EQ(r.out, std::string(static_cast<size_t>(n), 'x')) << n;
  }
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7 + i / 4096) % 251);
  auto r = Exec({"cat"}, data, true);
  EXPECT_EQ(r.exit.code(), 0);
  ASSERT_EQ(r.out.size(), data.size());
  EXPECT_TRUE(r.out == data);
}

TEST_F(AgentTest, ManyConcurrentExecsAllComplete) {
  std::vector<std::thread> threads;
  std::vector<ExecResult> results(20);
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      results[i] = Exec({"sh", "-c", "echo " + std::to_string(i) + "; exit " + std::to_string(i)});
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(results[i].out, std::to_string(i) + "\n");
    EXPECT_EQ(results[i].exit.code(), i);
  }
}

}  // namespace ws::test
