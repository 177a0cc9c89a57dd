#include "host/cli/client.h"

#include <errno.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "host/cli/exit_codes.h"
#include "host/common/grpc_status.h"
#include "host/common/subprocess.h"
#include "host/store/layout.h"

namespace ws::cli {
namespace {

namespace v1 = workspace::v1;
using namespace std::chrono_literals;

Status Hello(v1::Controller::Stub* stub, std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::HelloRequest req;
  req.set_api_version(v1::API_VERSION_CURRENT);
  v1::HelloResponse resp;
  Status s = FromGrpc(stub->Hello(&ctx, req, &resp));
  if (!s.ok()) return s;
  if (resp.api_version() != v1::API_VERSION_CURRENT) {
    return {Code::kFailedPrecondition,
            "the daemon speaks API " + std::to_string(resp.api_version()) + ", this CLI speaks " +
                std::to_string(v1::API_VERSION_CURRENT) + "; restart the daemon with this build"};
  }
  return Status::Ok();
}

// The first "error: " the daemon logged after byte `from` of its log, or "".
std::string ErrorLoggedSince(const std::string& path, std::streamoff from) {
  std::ifstream f(path);
  f.seekg(from);
  std::string line;
  while (std::getline(f, line)) {
    auto at = line.find(" error: ");
    if (at != std::string::npos) return line.substr(at + 8);
  }
  return "";
}

std::streamoff FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// The daemon's command line for these options.
std::vector<std::string> DaemonArgs(const GlobalOptions& g) {
  std::vector<std::string> args = {ExeDir() + "/workspace-daemon", "--state-dir", g.state_dir};
  if (!g.connect_uri.empty()) args.insert(args.end(), {"--connect", g.connect_uri});
  if (!g.accel.empty()) args.insert(args.end(), {"--accel", g.accel});
  return args;
}

void ExecArgs(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
}

// Starts the daemon for this state dir, detached from the terminal.
Result<pid_t> SpawnDaemon(const GlobalOptions& g) {
  std::vector<std::string> args = DaemonArgs(g);
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    setsid();
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (fork() != 0) _exit(0);  // the daemon is re-parented away from us
    ExecArgs(std::move(args));
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  return pid;
}

}  // namespace

Result<std::unique_ptr<v1::Controller::Stub>> ConnectDaemon(const GlobalOptions& g) {
  store::Layout layout(store::NormalizeDir(g.state_dir));
  const std::string sock = layout.DaemonSocket();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  auto channel =
      grpc::CreateCustomChannel("unix:" + sock, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::Controller::NewStub(channel);
  Status s = Hello(stub.get(), 3s);
  if (s.ok()) {
    // They choose how a daemon starts; this one has started already.
    for (const auto& [flag, value] :
         {std::pair{"--libvirt-uri (WORKSPACE_LIBVIRT_URI)", g.connect_uri},
          std::pair{"--accel (WORKSPACE_ACCEL)", g.accel}}) {
      if (value.empty()) continue;
      std::fprintf(stderr,
                   "workspace: %s has no effect: the daemon for %s is already running (give it "
                   "where the daemon "
                   "starts: workspace daemon, or its systemd unit)\n",
                   flag, layout.state_dir().c_str());
    }
    return stub;
  }
  if (s.code() == Code::kFailedPrecondition) return s;

  if (geteuid() != 0) {
    if (access(sock.c_str(), F_OK) == 0 && access(sock.c_str(), R_OK | W_OK) != 0) {
      return Status(Code::kPermissionDenied, "no access to the workspace daemon at " + sock +
                                                 "; add yourself to the 'workspace' group (sudo "
                                                 "adduser $USER workspace) and log in again");
    }
    return Status(
        Code::kUnavailable,
        "no workspace daemon is running at " + sock +
            "; start it as root: sudo systemctl start workspace (or sudo workspace daemon)");
  }
  Status check = store::CheckSocketBudget(layout);
  if (!check.ok()) return check;
  const std::streamoff log_start = FileSize(layout.DaemonLog());
  auto spawned = SpawnDaemon({layout.state_dir(), g.connect_uri, g.accel});
  if (!spawned.ok()) return spawned.status();
  // The first start of an embedded libvirt root probes QEMU: allow a minute and more.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    // Two commands that start the daemon at once: the daemon of the one
    // that lost logs no error, and it waits for the other's socket.
    const std::string error = ErrorLoggedSince(layout.DaemonLog(), log_start);
    if (!error.empty()) {
      return Status(Code::kUnavailable, "the workspace daemon did not start: " + error +
                                            " (log: " + layout.DaemonLog() + ")");
    }
    if (access(sock.c_str(), F_OK) == 0 && Hello(stub.get(), 2s).ok()) return stub;
  }
  return Status(Code::kUnavailable,
                "the workspace daemon did not answer within 120 s; see " + layout.DaemonLog());
}

int ExecDaemon(const GlobalOptions& g, const std::vector<std::string>& extra) {
  std::vector<std::string> args = DaemonArgs(g);
  args.insert(args.end(), extra.begin(), extra.end());
  ExecArgs(args);
  std::fprintf(stderr, "workspace: cannot run the daemon %s: %s; rebuild with ./scripts/setup\n",
               args[0].c_str(), std::strerror(errno));
  return kFailure;
}

}  // namespace ws::cli
