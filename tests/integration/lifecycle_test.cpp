// Real VMs through the real CLI, daemon, libvirt and guest agent: create,
// exec, list, stop/start, logs, destroy, restarts, and the exit-code contract.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/integration/environment.h"

namespace ws::test {
namespace {

namespace fs = std::filesystem;

World& W() { return World::Get(); }

std::string ImageKernel() {
  std::ifstream f(std::string(WS_BUILD_DIR) + "/images/minimal/image.env");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("kernel=", 0) == 0) return line.substr(7);
  }
  return "";
}

// pid of the QEMU running workspace `name` of this test's state dir (its
// kernel is under it), or -1.
int QemuPidFor(const std::string& name) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream f(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.find("qemu-system") != std::string::npos &&
        cmd.find(std::string("guest=") + name + ",") != std::string::npos &&
        cmd.find(W().state_dir() + "/") != std::string::npos) {
      return std::stoi(e.path().filename().string());
    }
  }
  return -1;
}

bool QemuRunningFor(const std::string& name) { return QemuPidFor(name) > 0; }

// Parent pid and name of a process, from /proc/PID/stat ("" for a gone one).
std::pair<int, std::string> ParentAndName(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return {-1, ""};
  int ppid = -1;
  char state = 0;
  sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid);
  return {ppid, stat.substr(open + 1, close - open - 1)};
}

bool Gone(int pid, std::chrono::seconds within) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (fs::exists("/proc/" + std::to_string(pid))) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// One workspace, created the way a user would (in a folder, no name given),
// shared by the exec tests.
class Demo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string folder = W().NewFolder("demo");
    RunOptions o;
    o.cwd = folder;
    create_ = new RunResult(W().Cli({"create"}, o));
  }
  static inline RunResult* create_ = nullptr;
};

TEST_F(Demo, CreateInAFolderNamesTheWorkspaceAfterIt) {
  ASSERT_EQ(create_->code, 0) << create_->err;
  EXPECT_EQ(create_->out, "demo\n");
}

TEST_F(Demo, ExecRunsInTheGuestKernel) {
  auto r = W().Cli({"exec", "demo", "--", "uname", "-r"});
  ASSERT_EQ(r.code, 0) << r.err;
  struct utsname host;
  uname(&host);
  EXPECT_EQ(r.out, ImageKernel() + "\n");
  EXPECT_NE(r.out, std::string(host.release) + "\n");
  EXPECT_EQ(W().Cli({"exec", "demo", "--", "hostname"}).out, "demo\n");
}

// The guest kernel skips zeroing its own allocations (a ~10 % cost under
// TCG; workspaces.cpp says why that is safe here).
TEST_F(Demo, GuestKernelBootsWithTheSpeedTuning) {
  auto r = W().Cli({"exec", "demo", "--", "cat", "/proc/cmdline"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(" init_on_alloc=0 "), std::string::npos) << r.out;
}

TEST_F(Demo, ExecKeepsStreamsApartAndPassesTheExitCode) {
  auto r = W().Cli({"exec", "demo", "--", "sh", "-c", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.code, 7);
}

TEST_F(Demo, ExecKilledBySignalExits128PlusN) {
  EXPECT_EQ(W().Cli({"exec", "demo", "--", "sh", "-c", "kill -9 $$"}).code, 137);
  EXPECT_EQ(W().Cli({"exec", "demo", "--", "sh", "-c", "kill -15 $$"}).code, 143);
}

TEST_F(Demo, ExecMissingCommandIs127AndTimeoutIs124) {
  auto missing = W().Cli({"exec", "demo", "--", "no-such-cmd"});
  EXPECT_EQ(missing.code, 127);
  EXPECT_NE(missing.err.find("no-such-cmd"), std::string::npos);
  auto slow = W().Cli({"exec", "--timeout", "1", "demo", "--", "sleep", "60"});
  EXPECT_EQ(slow.code, 124);
  EXPECT_NE(slow.err.find("timed out"), std::string::npos);
}

TEST_F(Demo, ExecStdinIsForwardedWithDashI) {
  RunOptions o;
  o.stdin_data = std::string("a\0b", 3);
  auto r = W().Cli({"exec", "-i", "demo", "--", "od", "-c"}, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("a  \\0   b"), std::string::npos) << r.out;
}

TEST_F(Demo, ExecUsageErrorsAndUnknownWorkspacesExit125) {
  auto bogus = W().Cli({"exec", "demo", "--bogus-flag", "--", "true"});
  EXPECT_EQ(bogus.code, 125);
  EXPECT_NE(bogus.err.find("--bogus-flag"), std::string::npos);
  EXPECT_EQ(std::count(bogus.err.begin(), bogus.err.end(), '\n'), 1) << "one line: " << bogus.err;
  auto nosuch = W().Cli({"exec", "nosuch", "--", "true"});
  EXPECT_EQ(nosuch.code, 125);
  EXPECT_NE(nosuch.err.find("no workspace named 'nosuch'"), std::string::npos) << nosuch.err;
  EXPECT_EQ(W().Cli({"exec", "demo"}).code, 125) << "no command";
  EXPECT_EQ(W().Cli({"exec", "Bad/Name", "--", "true"}).code, 125);
}

TEST_F(Demo, ListAndInspectShowItRunning) {
  auto list = W().Cli({"list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(JsonField(list.out, "demo", "state"), "running");
  EXPECT_EQ(JsonField(list.out, "demo", "image"), "minimal");
  auto inspect = W().Cli({"inspect", "demo", "--json"});
  ASSERT_EQ(inspect.code, 0);
  EXPECT_EQ(JsonField(inspect.out, "demo", "owner_uid"), "0");
  EXPECT_EQ(JsonField(inspect.out, "demo", "accel"), "tcg");
  EXPECT_FALSE(JsonField(inspect.out, "demo", "uuid").empty());
  auto table = W().Cli({"list"});
  EXPECT_NE(table.out.find("demo"), std::string::npos);
  EXPECT_EQ(W().Cli({"inspect", "nosuch"}).code, 1);
}

TEST_F(Demo, DaemonRestartLosesNoRunningWorkspace) {
  auto before = W().Cli({"exec", "demo", "--", "cat", "/proc/uptime"});
  ASSERT_EQ(before.code, 0);
  int old_pid = DaemonPid(W().state_dir());
  ASSERT_GT(old_pid, 0);
  kill(old_pid, SIGKILL);  // no chance to clean up
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto after = W().Cli({"exec", "demo", "--", "cat", "/proc/uptime"});
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_NE(DaemonPid(W().state_dir()), old_pid);
  EXPECT_GT(std::stod(after.out), std::stod(before.out)) << "the same VM, not a new boot";
  std::ofstream(W().home() + "/demo/after-restart") << "still shared";
  EXPECT_EQ(W().Cli({"exec", "demo", "--", "cat", "/workspace/after-restart"}).out, "still shared")
      << "the share's virtiofsd outlives the daemon";
  EXPECT_EQ(JsonField(W().Cli({"list", "--json"}).out, "demo", "state"), "running");
}

// An exec sent while its workspace is being created waits for the boot
// instead of failing on the half-made VM ("stopped", then "paused").
TEST(Lifecycle, AnExecDuringCreateWaitsForTheBoot) {
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = W().state_dir();
  bool caught = false;  // the exec went out before the VM was running
  for (int attempt = 0; attempt < 3 && !caught; ++attempt) {
    const int create = Spawn({W().bin(), "create", "--image", "minimal", "--no-share", "early"}, o);
    ReapOnExit guard(create);
    std::string state;
    for (int i = 0; i < 3000 && state.empty(); ++i) {
      state = JsonField(W().Cli({"list", "--json"}).out, "early", "state");
      if (state.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_FALSE(state.empty()) << "never listed";
    caught = state == "stopped" || state == "paused";
    if (caught) {
      auto exec = W().Cli({"exec", "early", "--", "echo", "up"});
      EXPECT_EQ(exec.code, 0) << "sent while " << state << ": " << exec.err;
      EXPECT_EQ(exec.out, "up\n");
    }
    int st = 0;
    waitpid(create, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_EQ(W().Cli({"destroy", "--force", "early"}).code, 0);
  }
  EXPECT_TRUE(caught) << "three creates and not one seen before it ran";
}

TEST(Lifecycle, StopStartAndLogs) {
  ASSERT_EQ(W().Cli({"create", "cycle"}).code, 0);
  auto stop = W().Cli({"stop", "cycle"});
  ASSERT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(JsonField(W().Cli({"list", "--json"}).out, "cycle", "state"), "stopped");
  auto stopped = W().Cli({"exec", "cycle", "--", "true"});
  EXPECT_EQ(stopped.code, 125);
  EXPECT_NE(stopped.err.find("stopped"), std::string::npos) << stopped.err;
  EXPECT_NE(stopped.err.find("workspace start cycle"), std::string::npos) << stopped.err;
  auto start = W().Cli({"start", "cycle"});
  ASSERT_EQ(start.code, 0) << start.err;
  EXPECT_EQ(W().Cli({"exec", "cycle", "--", "echo", "back"}).out, "back\n");
  auto logs = W().Cli({"logs", "cycle"});
  EXPECT_EQ(logs.code, 0);
  EXPECT_NE(logs.out.find("workspace-agent"), std::string::npos) << logs.out;
  EXPECT_EQ(W().Cli({"destroy", "--force", "cycle"}).code, 0);
}

// After ./scripts/setup rebuilds the image, a stopped workspace boots the
// new build (its agent matches the daemon), not the copy installed at create.
TEST(Lifecycle, StartInstallsANewerBuildOfTheImage) {
  ASSERT_EQ(W().Cli({"create", "upgrade"}).code, 0);
  ASSERT_EQ(W().Cli({"stop", "upgrade"}).code, 0);
  // Make the installed copy an older, broken one: booting it would fail.
  const fs::path installed = fs::path(W().state_dir()) / "images" / "minimal";
  std::string env;
  {
    std::ifstream f(installed / "image.env");
    env.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  env = std::regex_replace(env, std::regex("created=[^\n]*"), "created=2000-01-01T00:00:00Z");
  std::ofstream(installed / "image.env") << env;
  fs::permissions(installed / "initrd.img", fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(installed / "initrd.img", std::ios::trunc) << "not an initramfs";

  auto start = W().Cli({"start", "upgrade"});
  ASSERT_EQ(start.code, 0) << start.err;
  EXPECT_EQ(W().Cli({"exec", "upgrade", "--", "echo", "new"}).out, "new\n");
  std::ifstream f(installed / "image.env");
  std::string now((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(now.find("created=2000"), std::string::npos) << now;
  EXPECT_GT(fs::file_size(installed / "initrd.img"), 1000u);
  EXPECT_EQ(W().Cli({"destroy", "--force", "upgrade"}).code, 0);
}

// A damaged image makes the guest kernel panic and reboot into the same
// panic: `start` says so as soon as the console shows it (not after the
// two-minute boot timeout) and leaves the VM stopped.
TEST(Lifecycle, AGuestKernelPanicFailsTheBootAndStopsTheVm) {
  ASSERT_EQ(W().Cli({"create", "--image", "minimal", "panics"}).code, 0);
  ASSERT_EQ(W().Cli({"stop", "panics"}).code, 0);
  const fs::path initrd = fs::path(W().state_dir()) / "images" / "minimal" / "initrd.img";
  const fs::path good = fs::path(WS_BUILD_DIR) / "images" / "minimal" / "initrd.img";
  fs::permissions(initrd, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(initrd, std::ios::trunc) << "not an initramfs";

  auto start = W().Cli({"start", "panics"});
  // Put the image right before asserting: the next tests boot it too.
  fs::copy_file(good, initrd, fs::copy_options::overwrite_existing);
  EXPECT_EQ(start.code, 1);
  EXPECT_NE(start.err.find("the guest kernel panicked (Kernel panic"), std::string::npos)
      << start.err;
  EXPECT_NE(start.err.find("workspace logs panics"), std::string::npos) << start.err;
  EXPECT_EQ(std::count(start.err.begin(), start.err.end(), '\n'), 1) << "one line";
  EXPECT_FALSE(QemuRunningFor("panics")) << "left rebooting into the panic";

  auto again = W().Cli({"start", "panics"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(W().Cli({"exec", "panics", "--", "echo", "booted"}).out, "booted\n");
  EXPECT_EQ(W().Cli({"destroy", "--force", "panics"}).code, 0);
}

// A VM that dies under the daemon (its QEMU killed): exec says so at once
// and how to go on, and start brings it back; what served the dead VM (the
// egress watcher, still trying its agent) must not hold the new one up.
TEST(Lifecycle, AKilledVmIsReportedAndStartsAgain) {
  ASSERT_EQ(W().Cli({"create", "--image", "minimal", "killed"}).code, 0);
  ASSERT_EQ(W().Cli({"exec", "killed", "--", "true"}).code, 0);
  const int qemu = QemuPidFor("killed");
  ASSERT_GT(qemu, 0);
  kill(qemu, SIGKILL);
  std::string state;
  for (int i = 0; i < 100 && (state = JsonField(W().Cli({"list", "--json"}).out, "killed",
                                                "state")) == "running";
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(state, "running") << "libvirt did not see its QEMU die";
  RunOptions bounded;
  bounded.timeout_seconds = 60;
  auto exec = W().Cli({"exec", "killed", "--", "true"}, bounded);
  EXPECT_EQ(exec.code, 125);
  EXPECT_NE(exec.err.find("workspace start killed"), std::string::npos) << exec.err;

  auto start = W().Cli({"start", "killed"}, bounded);
  ASSERT_EQ(start.code, 0) << start.err;
  EXPECT_EQ(W().Cli({"exec", "killed", "--", "echo", "again"}, bounded).out, "again\n");
  auto stop = W().Cli({"stop", "killed"}, bounded);
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(W().Cli({"destroy", "--force", "killed"}).code, 0);
}

// The daemon runs under a reaper, its parent: the QEMU that libvirt starts
// daemonized is re-parented to it and reaped as soon as it exits (stop and
// reset wait for that), whatever the host's PID 1 does. A SIGTERM to the
// reaper stops the daemon, and running workspaces keep running.
TEST(Lifecycle, TheDaemonRunsUnderAReaperThatReapsItsVms) {
  ASSERT_EQ(W().Cli({"create", "--image", "minimal", "reaped"}).code, 0);
  const int daemon = DaemonPid(W().state_dir());
  const int qemu = QemuPidFor("reaped");
  ASSERT_GT(daemon, 0);
  ASSERT_GT(qemu, 0);
  const int reaper = ParentAndName(daemon).first;
  ASSERT_EQ(ParentAndName(reaper).second, "workspace-reap");  // before any kill(reaper)
  EXPECT_EQ(ParentAndName(qemu).first, reaper) << "QEMU is the reaper's child";

  ASSERT_EQ(W().Cli({"stop", "reaped"}).code, 0);
  EXPECT_TRUE(Gone(qemu, std::chrono::seconds(0))) << "stopped and reaped";
  ASSERT_EQ(W().Cli({"start", "reaped"}).code, 0);

  kill(reaper, SIGTERM);
  EXPECT_TRUE(Gone(daemon, std::chrono::seconds(20))) << "the daemon stops with its reaper";
  EXPECT_TRUE(Gone(reaper, std::chrono::seconds(5)));
  EXPECT_EQ(W().Cli({"exec", "reaped", "--", "echo", "kept"}).out, "kept\n")
      << "the VM kept running";
  EXPECT_EQ(W().Cli({"destroy", "--force", "reaped"}).code, 0);
}

TEST(Lifecycle, DestroyRefusesARunningWorkspaceWithoutForce) {
  ASSERT_EQ(W().Cli({"create", "keep"}).code, 0);
  auto r = W().Cli({"destroy", "keep"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--force"), std::string::npos);
  EXPECT_EQ(W().Cli({"exec", "keep", "--", "true"}).code, 0) << "still running";
  EXPECT_EQ(W().Cli({"destroy", "-f", "keep"}).code, 0);
}

TEST(Lifecycle, DestroyForceLeavesNothingBehind) {
  ASSERT_EQ(W().Cli({"create", "gone"}).code, 0);
  auto inspect = W().Cli({"inspect", "gone", "--json"});
  std::string uuid = JsonField(inspect.out, "gone", "uuid");
  std::string sock = W().state_dir() + "/run/" +
                     std::regex_replace(uuid, std::regex("-"), "").substr(0, 12) + ".sock";
  ASSERT_TRUE(fs::exists(sock));
  ASSERT_TRUE(QemuRunningFor("gone"));
  // Every path in the state dir that names the workspace, by its name or its id.
  const std::string id = std::regex_replace(uuid, std::regex("-"), "").substr(0, 12);
  auto ours = [&] {
    std::vector<std::string> found;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(
             W().state_dir(), fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string leaf = it->path().filename().string();
      if (leaf.find("gone") != std::string::npos || leaf.find(id) != std::string::npos ||
          leaf.find(uuid) != std::string::npos) {
        found.push_back(it->path().string());
      }
    }
    return found;
  };
  const auto before = ours();
  // Control: the listing sees the workspace's files, libvirt's share daemon log among them.
  EXPECT_TRUE(std::any_of(before.begin(), before.end(), [](const std::string& p) {
    return p.find("virtiofsd.log") != std::string::npos;
  })) << ::testing::PrintToString(before);
  auto r = W().Cli({"destroy", "--force", "gone"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(QemuRunningFor("gone"));
  EXPECT_EQ(W().Cli({"list", "--json"}).out.find("\"gone\""), std::string::npos);
  EXPECT_FALSE(fs::exists(W().state_dir() + "/workspaces/gone"));
  EXPECT_FALSE(fs::exists(sock));
  EXPECT_FALSE(fs::exists(W().state_dir() + "/libvirt/log/qemu/gone.log"));
  EXPECT_FALSE(fs::exists(W().state_dir() + "/libvirt/etc/qemu/gone.xml"));
  EXPECT_EQ(ours(), std::vector<std::string>{}) << "destroy left these behind";
  EXPECT_EQ(W().Cli({"exec", "gone", "--", "true"}).code, 125);
}

TEST(Lifecycle, BadNameIsRefusedAndLeavesNothing) {
  auto r = W().Cli({"create", "Bad/Name"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("invalid workspace name"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  EXPECT_FALSE(fs::exists(W().state_dir() + "/workspaces/Bad"));
  EXPECT_EQ(W().Cli({"list", "--json"}).out.find("Bad"), std::string::npos);
}

TEST(Lifecycle, DuplicateNameIsRefused) {
  ASSERT_EQ(W().Cli({"create", "twice"}).code, 0);
  auto r = W().Cli({"create", "twice"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos);
  EXPECT_EQ(W().Cli({"exec", "twice", "--", "true"}).code, 0) << "the first one is untouched";
  EXPECT_EQ(W().Cli({"destroy", "--force", "twice"}).code, 0);
}

TEST(Lifecycle, ImpossibleResourcesAreRefusedBeforeAnythingIsMade) {
  auto r = W().Cli({"create", "huge", "--memory", "100000000"});
  EXPECT_EQ(r.code, 2);
  auto cpus = W().Cli({"create", "many", "--cpus", "500"});
  EXPECT_EQ(cpus.code, 2);
  EXPECT_NE(cpus.err.find("CPUs"), std::string::npos) << cpus.err;
  EXPECT_FALSE(fs::exists(W().state_dir() + "/workspaces/many"));
}

TEST(Cli, DoctorFindsThisHostReady) {
  auto r = W().Cli({"doctor"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("accelerator: "), std::string::npos);
  EXPECT_NE(r.out.find("the daemon binary workspace-daemon"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("PROBLEM"), std::string::npos) << r.out;
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = "/tmp/" + std::string(100, 'z');
  auto bad = W().Cli({"doctor"}, o);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("PROBLEM  state dir"), std::string::npos) << bad.out;
}

TEST(Cli, HelpAndVersionExitZeroAndUsageErrorsExitTwo) {
  auto help = W().Cli({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("exec"), std::string::npos);
  EXPECT_EQ(W().Cli({"exec", "--help"}).code, 0);
  auto version = W().Cli({"--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.out.find(WS_VERSION), std::string::npos);
  EXPECT_EQ(W().Cli({}).code, 2);
  EXPECT_EQ(W().Cli({"frobnicate"}).code, 2);
  EXPECT_EQ(W().Cli({"inspect", "a", "b"}).code, 2);
  RunOptions nowhere;
  nowhere.cwd = W().NewFolder("no-workspace-here");
  auto none = W().Cli({"inspect"}, nowhere);
  EXPECT_EQ(none.code, 1) << "no NAME: the folder's workspace, and there is none";
  EXPECT_NE(none.err.find("workspace create"), std::string::npos) << none.err;
  EXPECT_EQ(W().Cli({"list", "--bogus"}).code, 2);
  EXPECT_EQ(W().Cli({"create", "--cpus", "x"}).code, 2);
}

TEST(Lifecycle, PruneAndDestroyAllSayWhatGoes) {
  // A state dir of its own, so the other tests' workspaces are not touched.
  std::string dir = "/tmp/wsit-prune-" + std::to_string(getpid());
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = dir;
  ASSERT_EQ(W().Cli({"create", "up", "--no-share"}, o).code, 0);
  ASSERT_EQ(W().Cli({"create", "down", "--no-share"}, o).code, 0);
  ASSERT_EQ(W().Cli({"stop", "down"}, o).code, 0);
  // On a terminal prune asks first (docker's does); "n" destroys nothing.
  const std::string env = "WORKSPACE_STATE_DIR=" + dir + " HOME=" + W().home();
  auto asked = ws::test::Run(
      {"sh", "-c",
       "printf 'n\\n' | script -qec 'env " + env + " " + W().bin() + " prune' /dev/null"});
  EXPECT_NE(asked.out.find("Destroy 1 stopped workspace (down)"), std::string::npos)
      << asked.out << asked.err;
  EXPECT_NE(asked.out.find("Nothing destroyed."), std::string::npos) << asked.out;
  EXPECT_NE(W().Cli({"list", "-q"}, o).out.find("down"), std::string::npos) << "kept after 'n'";
  auto prune = W().Cli({"prune"}, o);
  EXPECT_EQ(prune.code, 0) << prune.err;
  EXPECT_EQ(prune.out, "destroyed down\n");
  auto refused = W().Cli({"destroy", "--all"}, o);
  EXPECT_EQ(refused.code, 1) << "running ones need --force";
  EXPECT_NE(W().Cli({"list"}, o).out.find("up"), std::string::npos);
  auto all = W().Cli({"destroy", "--all", "--force"}, o);
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(all.out, "destroyed up\n");
  EXPECT_EQ(W().Cli({"list", "--json"}, o).out, "[]\n");
  EXPECT_EQ(W().Cli({"destroy", "up", "--all"}, o).code, 2);
  EXPECT_EQ(W().Cli({"destroy"}, o).code, 1) << "no NAME, and no workspace of this folder";
  CleanUpStateDir(dir, W());
}

TEST(Lifecycle, LongNameUnderALongStateDirWorks) {
  std::string dir = "/tmp/wsit-long-";
  dir += std::string(60 - dir.size(), 'x');
  ASSERT_EQ(dir.size(), 60u);
  std::string name(63, 'n');
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = dir;
  auto create = W().Cli({"create", name}, o);
  ASSERT_EQ(create.code, 0) << create.err;
  auto r = W().Cli({"exec", name, "--", "echo", "ok"}, o);
  EXPECT_EQ(r.out, "ok\n") << r.err;
  EXPECT_EQ(W().Cli({"destroy", "--force", name}, o).code, 0);
  CleanUpStateDir(dir, W());
}

TEST(Lifecycle, StateDirTooLongIsRefusedClearly) {
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = "/tmp/" + std::string(100, 'y');
  auto r = W().Cli({"list"}, o);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("too long"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ws::test
