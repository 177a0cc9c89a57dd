#include "tests/integration/environment.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

namespace ws::test {

World& World::Get() {
  static World w;
  return w;
}

void World::SetUp() {
  // Short on purpose: socket paths live under it.
  char tmpl[] = "/tmp/wsit-XXXXXX";
  state_dir_ = mkdtemp(tmpl);
  chmod(state_dir_.c_str(), 0711);
  char htmpl[] = "/tmp/wsit-home-XXXXXX";
  home_ = mkdtemp(htmpl);
  chmod(home_.c_str(), 0755);
  // Non-root users in the workspace group are part of the contract;
  // workspace-guest is what guest root becomes in shares (scripts/setup makes both).
  Run({"sh", "-c", "getent group workspace >/dev/null || groupadd --system workspace"});
  Run({"sh", "-c",
       "id -u workspace-guest >/dev/null 2>&1 || useradd --system --no-create-home "
       "--shell /usr/sbin/nologin workspace-guest"});
  // `create` shares the current folder: the CLI runs in a project folder.
  project_ = NewFolder("project");
}

void World::TearDown() {
  // A failed run keeps what the daemon saw of it: each boot that timed out
  // (with its console's last line), then the log's last lines.
  if (::testing::UnitTest::GetInstance()->failed_test_count() > 0) {
    std::ifstream log(state_dir_ + "/daemon.log");
    std::vector<std::string> timeouts;
    std::deque<std::string> last;
    for (std::string line; std::getline(log, line);) {
      if (line.find("timed out") != std::string::npos) timeouts.push_back(line);
      last.push_back(line);
      if (last.size() > 40) last.pop_front();
    }
    std::fprintf(stderr, "--- the daemon's log: boots that timed out ---\n");
    for (const auto& l : timeouts) std::fprintf(stderr, "%s\n", l.c_str());
    std::fprintf(stderr, "--- the daemon's log: its last lines ---\n");
    for (const auto& l : last) std::fprintf(stderr, "%s\n", l.c_str());
  }
  CleanUpStateDir(state_dir_, *this);
  Run({"rm", "-rf", home_});
}

RunResult World::Cli(const std::vector<std::string>& args, RunOptions opts) const {
  std::vector<std::string> argv = {bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  opts.env.emplace("WORKSPACE_STATE_DIR", state_dir_);
  opts.env.emplace("HOME", home_);
  opts.env.emplace("WORKSPACE_IMAGE", "minimal");
  // For the daemon the first call starts: idle egress tunnels are cut fast.
  opts.env.emplace("WORKSPACE_EGRESS_IDLE_SECONDS", "4");
  opts.env.emplace("WORKSPACE_REGISTRY_CONFIG", registry_config());
  opts.env.emplace("WORKSPACE_DAEMON_CONFIG", daemon_config());
  if (opts.cwd.empty()) opts.cwd = project_;
  return Run(argv, opts);
}

RunResult World::CliAs(const std::string& user, const std::vector<std::string>& args,
                       RunOptions opts) const {
  std::vector<std::string> argv = {
      "setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "--", bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  opts.env.emplace("WORKSPACE_STATE_DIR", state_dir_);
  opts.env.emplace("HOME", home_);
  opts.env.emplace("WORKSPACE_IMAGE", "minimal");
  opts.env.emplace("WORKSPACE_REGISTRY_CONFIG", registry_config());
  opts.env.emplace("WORKSPACE_DAEMON_CONFIG", daemon_config());
  if (opts.cwd.empty()) opts.cwd = "/";  // create needs --share or --no-share here
  return Run(argv, opts);
}

std::string World::NewFolder(const std::string& name) const {
  std::string dir = home_ + "/" + name;
  std::filesystem::create_directories(dir);
  return dir;
}

std::string JsonField(const std::string& json, const std::string& name, const std::string& key) {
  auto at = json.find("\"name\":\"" + name + "\"");
  if (at == std::string::npos) return "";
  auto start = json.rfind('{', at);
  auto end = json.find('}', at);
  std::string obj = json.substr(start, end - start);
  std::smatch m;
  std::regex re("\"" + key + "\":(\"([^\"]*)\"|([0-9]+))");
  if (!std::regex_search(obj, m, re)) return "";
  return m[2].matched ? m[2].str() : m[3].str();
}

int DaemonPid(const std::string& state_dir) {
  std::ifstream f(state_dir + "/daemon.lock");
  int pid = -1;
  if (!(f >> pid) || kill(pid, 0) != 0) return -1;
  return pid;
}

void EnsureUser(const std::string& user, bool in_group) {
  if (getpwnam(user.c_str()) == nullptr) {
    Run({"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user});
  }
  Run({"gpasswd", in_group ? "-a" : "-d", user, "workspace"});
}

void StopDaemon(const std::string& state_dir) {
  int pid = DaemonPid(state_dir);
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Every tripwire alert a daemon raised (its log's "tripwire:" lines) goes
// to one file per run, so the run shows the decoys' false-alert rate: only
// the tests that send a decoy on purpose should have any.
std::string TripwireLog() {
  const char* v = getenv("WORKSPACE_TEST_TRIPWIRE_LOG");
  return v && *v ? v : "/tmp/workspace-test-tripwires.log";
}

void KeepTripwires(const std::string& state_dir) {
  std::ifstream log(state_dir + "/daemon.log");
  std::ofstream out(TripwireLog(), std::ios::app);
  for (std::string line; std::getline(log, line);) {
    if (line.find(" tripwire: ") != std::string::npos) out << state_dir << " " << line << "\n";
  }
}

void CleanUpStateDir(const std::string& state_dir, const World& w) {
  KeepTripwires(state_dir);
  RunOptions o;
  o.env["WORKSPACE_STATE_DIR"] = state_dir;
  auto list = Run({w.bin(), "list", "--json"}, o);
  std::regex name_re("\"name\":\"([^\"]+)\"");
  for (std::sregex_iterator it(list.out.begin(), list.out.end(), name_re), end; it != end; ++it) {
    Run({w.bin(), "destroy", "--force", (*it)[1].str()}, o);
  }
  StopDaemon(state_dir);
  Run({"rm", "-rf", state_dir});
}

}  // namespace ws::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (geteuid() != 0) {
    std::fprintf(stderr, "integration_tests: must run as root (the daemon runs as root)\n");
    return 1;
  }
  std::ofstream(ws::test::TripwireLog(), std::ios::trunc);
  ws::test::World::Get().SetUp();
  int rc = RUN_ALL_TESTS();
  ws::test::World::Get().TearDown();
  {
    std::ifstream kept(ws::test::TripwireLog());
    int n = 0;
    for (std::string line; std::getline(kept, line);) ++n;
    std::printf("tripwire alerts raised in this run: %d (each in %s)\n", n,
                ws::test::TripwireLog().c_str());
  }
  return rc;
}
