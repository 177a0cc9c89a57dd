// Workspaces (create, destroy) over a FakeHypervisor and a FakeGuestAgent:
// each step of create failing in turn leaves nothing behind; destroy
// leaves nothing of the workspace in the state dir. No VM, no libvirt.
#include "host/controller/workspaces.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/daemon/fake_guest_agent.h"
#include "tests/daemon/fake_hypervisor.h"

namespace ws::test {
namespace {

namespace fs = std::filesystem;
using controller::Caller;
using controller::CreateParams;

// Every path under `dir` whose name holds `needle`.
std::vector<std::string> PathsNaming(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().find(needle) != std::string::npos) out.push_back(it->path());
  }
  return out;
}

bool PortFree(uint16_t port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

class WorkspacesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ws-workspaces-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    // A minimal image as scripts/setup builds it (files, not a bootable kernel).
    const std::string built = dir_ + "/build/minimal";
    fs::create_directories(built);
    std::ofstream(built + "/image.env") << "created=2026-01-01T00:00:00Z\ncpus=1\nmemory_mib=256\n";
    std::ofstream(built + "/vmlinuz") << "kernel";
    std::ofstream(built + "/initrd.img") << "initrd";
    fs::create_directories(dir_ + "/state/run");
    images_ = std::make_unique<controller::ImageStore>(
        dir_ + "/state/images", std::vector<std::string>{dir_ + "/build"}, dir_);
    agent_ = std::make_shared<FakeGuestAgent>();
    auto dial = [this](const std::string&,
                       std::chrono::milliseconds) -> Result<std::shared_ptr<guest::GuestAgent>> {
      if (agent_speaks_another_protocol_) {
        return Status(Code::kFailedPrecondition, "the guest agent speaks protocol 9 (fake)");
      }
      return std::shared_ptr<guest::GuestAgent>(agent_);
    };
    workspaces_ = std::make_unique<controller::Workspaces>(
        hv_, store::Layout(dir_ + "/state"), *images_, dial, virt::Accel::kTcg,
        controller::HostLimits{2, 4096}, "minimal", "/bin/false");
  }
  void TearDown() override { fs::remove_all(dir_); }

  CreateParams Params() {
    CreateParams p;
    p.name = "app";
    p.git_name = "Dev";
    return p;
  }
  // Nothing of "app": no VM, no path naming it, the published port free.
  void ExpectNothingLeft(uint16_t port = 0) {
    EXPECT_EQ(hv_.defined(), 0u);
    EXPECT_EQ(PathsNaming(dir_ + "/state", "app"), std::vector<std::string>{});
    if (port) {
      EXPECT_TRUE(PortFree(port)) << "port " << port << " still held";
    }
  }

  std::string dir_;
  FakeHypervisor hv_;
  std::unique_ptr<controller::ImageStore> images_;
  std::shared_ptr<FakeGuestAgent> agent_;
  bool agent_speaks_another_protocol_ = false;
  std::unique_ptr<controller::Workspaces> workspaces_;
  const Caller root_{0, 0, 1};
};

TEST_F(WorkspacesTest, CreateMakesTheVmAndItsFilesAndDestroyLeavesNothing) {
  auto ws = workspaces_->Create(root_, Params());
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_EQ(ws->state, virt::VmState::kRunning);
  // Control: create did make the VM and the workspace's files.
  EXPECT_EQ(hv_.defined(), 1u);
  EXPECT_FALSE(PathsNaming(dir_ + "/state", "app").empty());
  EXPECT_NE(hv_.cmdline("app").find("workspace.v=1 workspace.name=app"), std::string::npos)
      << hv_.cmdline("app");
  EXPECT_NE(hv_.cmdline("app").find("workspace.git_name=Dev"), std::string::npos);
  // Not its owner: refused, and the workspace stays.
  EXPECT_EQ(workspaces_->Destroy(Caller{1000, 1000, 1}, "app", true).code(), Code::kNotFound);
  EXPECT_EQ(hv_.defined(), 1u);
  // Running: destroy wants --force.
  EXPECT_EQ(workspaces_->Destroy(root_, "app", false).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(workspaces_->Destroy(root_, "app", true).ok());
  ExpectNothingLeft();
}

TEST_F(WorkspacesTest, ACreateThatFailsAtAnyStepLeavesNothing) {
  struct Step {
    const char* what;
    std::function<void()> arm, disarm;
  } steps[] = {
      {"define", [&] { hv_.fail_define = true; }, [&] { hv_.fail_define = false; }},
      {"start", [&] { hv_.fail_start = true; }, [&] { hv_.fail_start = false; }},
      {"boot (the VM died)", [&] { hv_.started_state = virt::VmState::kCrashed; },
       [&] { hv_.started_state = virt::VmState::kRunning; }},
      {"agent handshake", [&] { agent_speaks_another_protocol_ = true; },
       [&] { agent_speaks_another_protocol_ = false; }},
  };
  for (auto& step : steps) {
    SCOPED_TRACE(step.what);
    step.arm();
    CreateParams p = Params();
    p.publish = {{0, 18931}};  // a port create opens before the VM is defined
    auto ws = workspaces_->Create(root_, p);
    EXPECT_FALSE(ws.ok());
    step.disarm();
    ExpectNothingLeft(18931);
  }
  // Control: with nothing broken the same create succeeds and holds the port.
  CreateParams p = Params();
  p.publish = {{0, 18931}};
  auto ws = workspaces_->Create(root_, p);
  ASSERT_TRUE(ws.ok()) << ws.status().message();
  EXPECT_FALSE(PortFree(18931));
  ASSERT_TRUE(workspaces_->Destroy(root_, "app", true).ok());
  ExpectNothingLeft(18931);
}

// libvirt names a share daemon's log NAME-fsN-virtiofsd.log, which is also
// the QEMU log of a workspace called NAME-fsN-virtiofsd: destroy removes
// its own share logs, never the log of a workspace that exists by that name.
TEST_F(WorkspacesTest, DestroyRemovesItsShareLogsButNotAnotherWorkspacesLogOfTheSameName) {
  const std::string logs = dir_ + "/state/libvirt/log/qemu/";
  fs::create_directories(logs);
  fs::create_directories(dir_ + "/project");
  auto with_share = [&](const std::string& name) {
    CreateParams p = Params();
    p.name = name;
    p.shares = {{dir_ + "/project", "/workspace", true, {}, {}, {}}};
    auto ws = workspaces_->Create(root_, p);
    EXPECT_TRUE(ws.ok()) << ws.status().message();
  };
  // Control: with no such other workspace, the share log goes.
  with_share("app");
  std::ofstream(logs + "app-fs0-virtiofsd.log") << "share daemon log";
  ASSERT_TRUE(workspaces_->Destroy(root_, "app", true).ok());
  EXPECT_FALSE(fs::exists(logs + "app-fs0-virtiofsd.log"));
  // A workspace named app-fs0-virtiofsd exists: its QEMU log stays.
  with_share("app");
  CreateParams other = Params();
  other.name = "app-fs0-virtiofsd";
  ASSERT_TRUE(workspaces_->Create(root_, other).ok());
  std::ofstream(logs + "app-fs0-virtiofsd.log") << "the other workspace's QEMU log";
  ASSERT_TRUE(workspaces_->Destroy(root_, "app", true).ok());
  EXPECT_TRUE(fs::exists(logs + "app-fs0-virtiofsd.log"));
  EXPECT_TRUE(workspaces_->Destroy(root_, "app-fs0-virtiofsd", true).ok());
}

TEST_F(WorkspacesTest, ACreateRefusedBeforeAnythingIsMadeSaysWhy) {
  CreateParams p = Params();
  p.cpus = 64;
  EXPECT_EQ(workspaces_->Create(root_, p).status().code(), Code::kInvalidArgument);
  p = Params();
  p.memory_mib = 64;
  EXPECT_EQ(workspaces_->Create(root_, p).status().code(), Code::kInvalidArgument);
  p = Params();
  p.image = "nosuch";
  EXPECT_EQ(workspaces_->Create(root_, p).status().code(), Code::kNotFound);
  ExpectNothingLeft();
}

}  // namespace
}  // namespace ws::test
