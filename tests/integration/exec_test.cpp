// `exec` as good as ssh / docker exec, on a real VM: stdin, users, signals,
// timeouts with forking commands, concurrency, huge output with bounded
// daemon memory, and `cp` both ways.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/integration/environment.h"

namespace ws::test {
namespace {

namespace fs = std::filesystem;
World& W() { return World::Get(); }

class Exec : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = W().Cli({"create", "ex"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() { W().Cli({"destroy", "--force", "ex"}); }
  RunResult Sh(const std::string& script, RunOptions o = {}) {
    return W().Cli({"exec", "-u", "root", "ex", "--", "sh", "-c", script}, o);
  }
  // Processes in the guest whose command line contains `needle`.
  // The listing itself must have run (its header seen), so that an empty
  // answer means no such process, never a failed exec.
  std::string GuestPs(const std::string& needle) {
    auto r = Sh("ps -o pid,args");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("PID"), std::string::npos) << "ps did not run: " << r.out << r.err;
    std::string found;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(needle) != std::string::npos && line.find("ps -o") == std::string::npos) {
        found += line + "\n";
      }
    }
    return found;
  }
};

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Sha256(const std::string& data) {
  RunOptions o;
  o.stdin_data = data;
  return ws::test::Run({"sha256sum"}, o).out.substr(0, 64);
}

long RssKib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = -1;
  while (f >> key) {
    if (key == "VmRSS:") {
      f >> value;
      return value;
    }
  }
  return -1;
}

TEST_F(Exec, TwentyMiBOfRandomStdinComesBackIntact) {
  RunOptions o;
  o.stdin_data = RandomBytes(20 << 20);
  auto r = W().Cli({"exec", "-i", "ex", "--", "cat"}, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.size(), o.stdin_data.size());
  EXPECT_EQ(Sha256(r.out), Sha256(o.stdin_data));
}

TEST_F(Exec, OneGiBOfOutputIsCountedExactlyWithBoundedDaemonMemory) {
  // The CLI's stdout goes to `wc -c` so this test does not hold 1 GiB itself.
  std::string cmd =
      W().bin() + " exec ex -- dd if=/dev/zero bs=64k count=16384 2>/dev/null | wc -c";
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = W().state_dir();
  int daemon = DaemonPid(W().state_dir());
  ASSERT_GT(daemon, 0);
  long peak = 0;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak, RssKib(daemon));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  auto r = ws::test::Run({"sh", "-c", cmd}, o);
  done = true;
  sampler.join();
  EXPECT_EQ(r.out, "1073741824\n") << r.err;
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 100 * 1024) << "daemon RSS peaked at " << peak << " KiB";
}

TEST_F(Exec, StdoutAndStderrStaySeparateUnderLoad) {
  auto r = Sh("i=0; while [ $i -lt 2000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done");
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2000);
  EXPECT_EQ(r.out.find("err"), std::string::npos);
  EXPECT_EQ(r.err.find("out"), std::string::npos);
  EXPECT_EQ(r.err.substr(0, 5), "err0\n");
}

TEST_F(Exec, UserEnvAndCwdAreApplied) {
  EXPECT_EQ(W().Cli({"exec", "ex", "--", "id", "-u"}).out, "1000\n") << "default: user";
  EXPECT_EQ(W().Cli({"exec", "-u", "root", "ex", "--", "id", "-u"}).out, "0\n");
  EXPECT_EQ(W().Cli({"exec", "-u", "user", "ex", "--", "sh", "-c", "echo $HOME"}).out,
            "/home/user\n");
  auto env =
      W().Cli({"exec", "-e", "A=1", "--env", "B=two words", "ex", "--", "sh", "-c", "echo $A-$B"});
  EXPECT_EQ(env.out, "1-two words\n");
  EXPECT_EQ(W().Cli({"exec", "-w", "/tmp", "ex", "--", "pwd"}).out, "/tmp\n");
  EXPECT_EQ(W().Cli({"exec", "-w", "/nope", "ex", "--", "pwd"}).code, 126);
  EXPECT_EQ(W().Cli({"exec", "-u", "nosuch", "ex", "--", "true"}).code, 126);
  EXPECT_EQ(W().Cli({"exec", "ex", "--", "/etc/passwd"}).code, 126);
  EXPECT_EQ(W().Cli({"exec", "ex", "--", "nonexistent"}).code, 127);
  EXPECT_EQ(W().Cli({"exec", "-e", "=x", "ex", "--", "true"}).code, 125);
  // -e KEY: the caller's value, or left out (as docker) when it has none.
  auto unset = W().Cli({"exec", "-e", "WS_NOT_SET_ANYWHERE", "ex", "--", "sh", "-c",
                        "echo ${WS_NOT_SET_ANYWHERE-unset}"});
  EXPECT_EQ(unset.out, "unset\n") << unset.err;
  EXPECT_NE(unset.err.find("WS_NOT_SET_ANYWHERE is not set here"), std::string::npos) << unset.err;
}

TEST_F(Exec, TimeoutKillsEverythingTheCommandStarted) {
  auto t = W().Cli({"exec", "--timeout", "2", "-u", "root", "ex", "--", "sh", "-c",
                    "sleep 211 & (sleep 212 &); setsid sleep 213 & sleep 300"});
  EXPECT_EQ(t.code, 124);
  EXPECT_NE(t.err.find("timed out"), std::string::npos);
  EXPECT_EQ(GuestPs("sleep 21"), "") << "a survivor";
}

// With stdout on the bulk port, closing stderr leaves the agent no pipe to
// watch: the timeout must still fire.
TEST_F(Exec, TimeoutFiresForACommandWithNoOutputPipesLeft) {
  auto t =
      W().Cli({"exec", "--timeout", "2", "ex", "--", "sh", "-c", "exec 2>/dev/null; sleep 300"});
  EXPECT_EQ(t.code, 124) << t.err;
}

TEST_F(Exec, ChildrenLeftBehindDieWithTheCommand) {
  auto r = Sh("sleep 221 & setsid sleep 222 & (sleep 223 &); echo started");
  EXPECT_EQ(r.out, "started\n");
  EXPECT_EQ(GuestPs("sleep 22"), "");
}

TEST_F(Exec, SignalsToTheCliReachTheCommand) {
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = W().state_dir();
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    std::string out = W().home() + "/sig.out";
    const std::string n = std::to_string(sig);
    std::string cmd = W().bin() + " exec -u root ex -- sh -c 'trap \"echo got-" + n +
                      "; exit 3\" " + n + "; echo ready; sleep 60 & wait' > " + out + " 2>&1";
    int pid = Spawn({"sh", "-c", "exec " + cmd}, o);
    ReapOnExit guard(pid);
    bool ready = false;
    for (int i = 0; i < 200 && !ready; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream f(out);
      std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      ready = s.find("ready") != std::string::npos;
    }
    ASSERT_TRUE(ready);
    kill(pid, sig);
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 3) << "signal " << sig;
    std::ifstream f(out);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_NE(s.find("got-" + n), std::string::npos) << s;
  }
}

TEST_F(Exec, KillingTheCliKillsTheCommand) {
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = W().state_dir();
  int pid = Spawn({W().bin(), "exec", "ex", "--", "sh", "-c", "sleep 231 & sleep 232"}, o);
  ReapOnExit guard(pid);
  for (int i = 0; i < 100 && GuestPs("sleep 232").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(GuestPs("sleep 232"), "");
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::string left = "x";
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = GuestPs("sleep 23");
  }
  EXPECT_EQ(left, "") << "orphans in the guest";
}

TEST_F(Exec, TwentyConcurrentExecsAllComplete) {
  std::vector<std::thread> threads;
  std::vector<RunResult> results(20);
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      results[i] = W().Cli({"exec", "ex", "--", "sh", "-c",
                            "echo n" + std::to_string(i) + "; sleep 1; exit " + std::to_string(i)});
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(results[i].out, "n" + std::to_string(i) + "\n") << results[i].err;
    EXPECT_EQ(results[i].code, i);
  }
}

// A command's stdout is the bulk output port itself (guest-agent/bulk_port.h)
// when the port is free; a second command at the same time gets a pipe.
TEST_F(Exec, StdoutIsTheBulkPortAndAConcurrentExecGetsAPipe) {
  auto alone = W().Cli({"exec", "ex", "--", "readlink", "/proc/self/fd/1"});
  ASSERT_EQ(alone.code, 0) << alone.err;
  EXPECT_EQ(alone.out.rfind("/dev/vport", 0), 0u) << alone.out;

  RunResult first;
  std::thread t([&] {
    first = W().Cli(
        {"exec", "ex", "--", "sh", "-c", "readlink /proc/self/fd/1; sleep 6; echo first-done"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto second =
      W().Cli({"exec", "ex", "--", "sh", "-c", "readlink /proc/self/fd/1; echo second-done"});
  t.join();
  ASSERT_EQ(first.code, 0) << first.err;
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(first.out.substr(first.out.find('\n') + 1), "first-done\n");
  EXPECT_EQ(second.out.substr(second.out.find('\n') + 1), "second-done\n");
  // Whichever started first holds the port; the other has a pipe.
  const bool first_port = first.out.rfind("/dev/vport", 0) == 0;
  const bool second_port = second.out.rfind("/dev/vport", 0) == 0;
  EXPECT_NE(first_port, second_port) << first.out << second.out;
  EXPECT_NE((first_port ? second : first).out.find("pipe:"), std::string::npos);
}

// The bulk port cannot be opened again (a virtio port opens once): a command
// that writes to /dev/stdout by name fails loudly, and --pipe-stdout gives it
// a pipe. /dev/stdout, /dev/stderr and /dev/fd exist as on any Linux system.
TEST_F(Exec, PipeStdoutIsForCommandsThatOpenDevStdout) {
  const std::string script =
      "echo x > /dev/stdout && echo y | tee /dev/stderr >/dev/null && cat /dev/fd/3 "
      "3</proc/sys/kernel/ostype";
  auto piped = W().Cli(
      {"exec", "--pipe-stdout", "ex", "--", "sh", "-c", "readlink /proc/self/fd/1; " + script});
  ASSERT_EQ(piped.code, 0) << piped.err;
  EXPECT_EQ(piped.out.substr(0, 5), "pipe:") << piped.out;
  EXPECT_EQ(piped.out.substr(piped.out.find('\n') + 1), "x\nLinux\n");
  EXPECT_EQ(piped.err, "y\n");

  auto bulk = W().Cli({"exec", "ex", "--", "sh", "-c", "echo x > /dev/stdout"});
  EXPECT_NE(bulk.code, 0);
  EXPECT_NE(bulk.err.find("/dev/stdout"), std::string::npos) << bulk.err;
  auto root = W().Cli({"exec", "-u", "root", "ex", "--", "sh", "-c", "echo x > /dev/stdout"});
  EXPECT_NE(root.code, 0) << "root too: the port is busy, and no plain file appears in its place";
  EXPECT_EQ(W().Cli({"exec", "-u", "root", "ex", "--", "test", "-L", "/dev/stdout"}).code, 0);
}

// A writer the command left behind is killed before the stream's end
// marker: none of its output reaches the next exec.
TEST_F(Exec, OutputOfALeftoverWriterEndsWithItsCommand) {
  auto r =
      W().Cli({"exec", "ex", "--", "sh", "-c", "yes leftover & sleep 0.5; echo last >&2; exit 5"});
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.out.find("leftover\n"), std::string::npos);
  EXPECT_EQ(r.err, "last\n");
  for (int i = 0; i < 3; ++i) {
    auto next = W().Cli({"exec", "ex", "--", "sh", "-c", "echo clean; readlink /proc/self/fd/1"});
    EXPECT_EQ(next.out.substr(0, 6), "clean\n") << next.out.substr(0, 200);
    EXPECT_EQ(next.out.find("leftover"), std::string::npos);
  }
}

// A client gone mid-stream, and a daemon restarted: the port comes back
// clean for the next exec.
TEST_F(Exec, TheBulkPortSurvivesAKilledClientAndARestartedDaemon) {
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = W().state_dir();
  int pid = Spawn({W().bin(), "exec", "ex", "--", "sh", "-c", "yes streaming"}, o);
  ReapOnExit guard(pid);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  // The killed exec lets go of the port once its command is gone and its end
  // marker written; an exec in between gets a pipe.
  RunResult after_kill;
  for (int i = 0; i < 50; ++i) {
    after_kill = W().Cli({"exec", "ex", "--", "sh", "-c", "echo clean; readlink /proc/self/fd/1"});
    ASSERT_EQ(after_kill.out.substr(0, 6), "clean\n")
        << after_kill.out.substr(0, 200) << after_kill.err;
    if (after_kill.out.find("/dev/vport") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(after_kill.out.substr(0, 16), "clean\n/dev/vport");

  StopDaemon(W().state_dir());
  auto first = W().Cli({"exec", "ex", "--", "readlink", "/proc/self/fd/1"});
  EXPECT_EQ(first.out.rfind("/dev/vport", 0), 0u) << first.out << first.err;
  const std::string data = RandomBytes(3 << 20);
  RunOptions in;
  in.stdin_data = data;
  auto after_restart = W().Cli({"exec", "-i", "ex", "--", "cat"}, in);
  ASSERT_EQ(after_restart.code, 0) << after_restart.err;
  EXPECT_EQ(Sha256(after_restart.out), Sha256(data));
}

TEST_F(Exec, CopyOutKeepsGuestSymlinksAsLinksAndWritesNothingOutside) {
  ASSERT_EQ(
      Sh("rm -rf /tmp/t; mkdir -p /tmp/t/d && echo hi > /tmp/t/d/f && chmod 750 /tmp/t/d/f && "
         "touch -d '2021-05-06 07:08:09' /tmp/t/d/f && ln -s /etc /tmp/t/evil && "
         "ln -s ../../../victim /tmp/t/d/up")
          .code,
      0);
  std::string dir = W().NewFolder("cpout");
  std::string victim = W().home() + "/victim";
  std::ofstream(victim) << "untouched";
  RunOptions o;
  o.cwd = dir;
  auto r = W().Cli({"cp", "ex:/tmp/t", "./out"}, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(dir + "/out/evil"));
  EXPECT_EQ(fs::read_symlink(dir + "/out/evil"), "/etc");
  EXPECT_TRUE(fs::is_symlink(dir + "/out/d/up"));
  struct stat st;
  ASSERT_EQ(stat((dir + "/out/d/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1620284889) << "mtime kept";
  std::ifstream v(victim);
  std::string content;
  v >> content;
  EXPECT_EQ(content, "untouched");
  // Copying again into the same place must not write through the links now there.
  auto again = W().Cli({"cp", "ex:/tmp/t/evil", dir + "/out/evil"}, o);
  EXPECT_TRUE(fs::is_symlink(dir + "/out/evil"));
  EXPECT_FALSE(fs::exists("/etc/evil"));
}

TEST_F(Exec, CopyInKeepsModesAndFollowsHostSymlinksOnlyWithDashL) {
  std::string src = W().NewFolder("cpin/src");
  std::ofstream(src + "/a") << "alpha";
  chmod((src + "/a").c_str(), 0604);
  std::string secret = W().home() + "/host-secret";
  std::ofstream(secret) << "SECRET-XYZ";
  fs::create_symlink(secret, src + "/link");
  ASSERT_EQ(W().Cli({"cp", src, "ex:/tmp/in1"}).code, 0);
  EXPECT_EQ(Sh("cat /tmp/in1/a; stat -c %a /tmp/in1/a; readlink /tmp/in1/link").out,
            "alpha604\n" + secret + "\n");
  EXPECT_EQ(Sh("cat /tmp/in1/link 2>/dev/null || echo unreadable").out, "unreadable\n");
  ASSERT_EQ(W().Cli({"cp", "-L", src, "ex:/tmp/in2"}).code, 0);
  EXPECT_EQ(Sh("cat /tmp/in2/link").out, "SECRET-XYZ");
  // Into an existing directory, the source keeps its name (as cp does).
  ASSERT_EQ(W().Cli({"cp", src + "/a", "ex:/tmp"}).code, 0);
  EXPECT_EQ(Sh("cat /tmp/a").out, "alpha");
}

TEST_F(Exec, CopyErrorsAreClear) {
  auto missing = W().Cli({"cp", "ex:/no/such", W().home() + "/x"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("/no/such"), std::string::npos);
  // The guest's error text reaches the terminal cleaned of control characters.
  auto escaped = W().Cli({"cp", "ex:/tmp/\x1b[2Jnot-here", W().home() + "/x"});
  EXPECT_EQ(escaped.code, 1);
  EXPECT_NE(escaped.err.find("\\x1b[2Jnot-here"), std::string::npos) << escaped.err;
  EXPECT_EQ(escaped.err.find('\x1b'), std::string::npos) << "a raw escape from the guest";
  EXPECT_EQ(W().Cli({"cp", "a", "b"}).code, 2);
  EXPECT_EQ(W().Cli({"cp", "ex:relative", "x"}).code, 2);
  EXPECT_EQ(W().Cli({"cp", "nosuch:/x", W().home() + "/y"}).code, 1);
}

}  // namespace
}  // namespace ws::test
