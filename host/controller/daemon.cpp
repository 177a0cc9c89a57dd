#include "host/controller/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host/common/log.h"
#include "host/common/subprocess.h"
#include "host/common/unique_fd.h"
#include "host/controller/console_cap.h"
#include "host/controller/images.h"
#include "host/controller/peer_listener.h"
#include "host/controller/reaper.h"
#include "host/controller/service.h"
#include "host/controller/workspaces.h"
#include "host/guest/grpc_guest_agent.h"
#include "host/registry/registry.h"
#include "host/virt/libvirt/libvirt_hypervisor.h"

namespace ws::controller {
namespace {

namespace fs = std::filesystem;

int Fail(const std::string& msg) {
  Log("error: " + msg);
  return 1;
}

Status MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return ErrnoStatus("creating " + path, errno);
  if (chmod(path.c_str(), mode) != 0) return ErrnoStatus("chmod " + path, errno);
  return Status::Ok();
}

// The embedded driver reads ROOT/etc/qemu.conf. Without stdio_handler=file
// every start fails for want of virtlogd.
Status PrepareEmbedRoot(const store::Layout& layout) {
  for (const auto& d : {layout.LibvirtDir(), layout.LibvirtDir() + "/etc"}) {
    Status s = MakeDir(d, 0755);
    if (!s.ok()) return s;
  }
  std::string conf = layout.LibvirtDir() + "/etc/qemu.conf";
  if (!fs::exists(conf)) {
    std::ofstream f(conf);
    f << "# Written by the workspace daemon.\n"
         "# No virtlogd here: QEMU's console and log go straight to files.\n"
         "stdio_handler = \"file\"\n";
    if (!f) return {Code::kInternal, "cannot write " + conf};
  }
  if (layout.EmbedRootIsLink()) {
    std::string link = layout.EmbedRoot();
    std::error_code ec;
    fs::create_directories(fs::path(link).parent_path(), ec);
    if (fs::read_symlink(link, ec) != fs::path(layout.LibvirtDir())) {
      fs::remove(link, ec);
      fs::create_directory_symlink(layout.LibvirtDir(), link, ec);
      if (ec) return {Code::kInternal, "creating " + link + ": " + ec.message()};
    }
  }
  return Status::Ok();
}

HostLimits ProbeLimits() {
  HostLimits l;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  l.cpus = n > 0 ? static_cast<uint32_t>(n) : 1;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) l.memory_mib = static_cast<uint64_t>(pages) * page / (1 << 20);
  return l;
}

}  // namespace

int RunDaemon(const DaemonOptions& opts) {
  // Secrets live in this process's memory: no core dump, no ptrace by
  // anyone but root with CAP_SYS_PTRACE.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (geteuid() != 0) {
    std::fprintf(stderr,
                 "workspace daemon: must run as root (libvirt refuses virtiofs otherwise); "
                 "start it with sudo or as a system service\n");
    return 1;
  }
  RunUnderReaper();
  // Block the stop signals before any thread exists, so sigwait() gets them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (chdir("/") != 0) return 1;

  store::Layout layout(store::NormalizeDir(opts.state_dir));
  Status s = store::CheckSocketBudget(layout);
  if (!s.ok()) {
    std::fprintf(stderr, "workspace daemon: %s\n", s.message().c_str());
    return 1;
  }
  std::error_code ec;
  fs::create_directories(layout.state_dir(), ec);
  for (const auto& [dir, mode] : {std::pair{layout.state_dir(), 0711},
                                  {layout.RunDir(), 0755},
                                  {layout.ImagesDir(), 0755},
                                  {layout.state_dir() + "/workspaces", 0711}}) {
    s = MakeDir(dir, static_cast<mode_t>(mode));
    if (!s.ok()) {
      std::fprintf(stderr, "workspace daemon: %s\n", s.message().c_str());
      return 1;
    }
  }
  OpenLog(layout.DaemonLog());

  unique_fd lock(open(layout.DaemonLock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock || flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    // Not an error for the CLI that started this one (it lost a race, and a
    // daemon is what it wants); said on a terminal, as every log line is.
    Log("not started: another workspace daemon is already running for " + layout.state_dir());
    return 1;
  }
  std::string pid = std::to_string(getpid()) + "\n";
  (void)!ftruncate(lock.get(), 0);
  (void)!pwrite(lock.get(), pid.data(), pid.size(), 0);

  auto accel = virt::ChooseAccel(opts.accel, virt::ProbeKvm());
  if (!accel.ok()) return Fail(accel.status().message());
  s = PrepareEmbedRoot(layout);
  if (!s.ok()) return Fail(s.message());
  std::string uri =
      opts.connect_uri.empty() ? "qemu:///embed?root=" + layout.EmbedRoot() : opts.connect_uri;
  auto hv = virt::OpenLibvirt(uri);
  if (!hv.ok()) return Fail(hv.status().message());

  // Allocated once and never freed: handlers may still be running when the
  // daemon stops, and the process ends right after (main uses _exit).
  auto* images = new ImageStore(layout.ImagesDir(), {ExeDir() + "/../images"},
                                ExeDir() + "/../share/workspace");
  images->RemoveLeftovers();
  virt::Hypervisor* hypervisor = hv.value().release();
  // The one place the agent's transport is chosen: the VM's channel, as the
  // hypervisor reaches it, carrying gRPC.
  auto dial = [hypervisor](
                  const std::string& name,
                  std::chrono::milliseconds timeout) -> Result<std::shared_ptr<guest::GuestAgent>> {
    const auto start = std::chrono::steady_clock::now();
    auto fd = hypervisor->DialAgent(name, timeout);
    if (!fd.ok()) return Status(fd.status().code(), "guest agent: " + fd.status().message());
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        timeout - (std::chrono::steady_clock::now() - start));
    auto agent = guest::GrpcGuestAgent::Connect(
        std::move(fd.value()), [hypervisor, name] { return hypervisor->DialBulk(name); },
        std::max(left, std::chrono::milliseconds(1)));
    if (!agent.ok()) return agent.status();
    return std::shared_ptr<guest::GuestAgent>(std::move(agent.value()));
  };
  auto* workspaces = new Workspaces(*hypervisor, layout, *images, dial, accel.value(),
                                    ProbeLimits(), "minimal", ExeDir() + "/workspace-virtiofsd");
  // Fresh guests restored from templates (issue #24) unless turned off.
  if (const char* t = getenv("WORKSPACE_TEMPLATES"); t && std::string(t) == "off") {
    Log("WORKSPACE_TEMPLATES=off: every create and reset boots the guest's kernel");
  } else {
    workspaces->SetTemplates(new Templates(layout, *hypervisor));
  }
  if (!opts.upstream_ca.empty()) {
    Log("--upstream-ca " + opts.upstream_ca +
        ": trusting it for the real servers of intercepted hosts (for tests only)");
  }
  if (auto tls = net::InterceptTls::Make(opts.upstream_ca); tls.ok()) {
    workspaces->SetInterceptTls(tls.value());
  } else {
    Log("no TLS interception (secrets cannot be bound): " + tls.status().message());
  }
  const char* reg_config = getenv("WORKSPACE_REGISTRY_CONFIG");
  workspaces->SetRegistry(new registry::Registry(
      layout.CacheDir(),
      reg_config && *reg_config ? reg_config : "/etc/workspace/registries.toml"));
  if (const char* guard = getenv("WORKSPACE_SHARE_GUARD"); guard && std::string(guard) == "off") {
    workspaces->SetShareGuard(false);
    Log("WARNING: WORKSPACE_SHARE_GUARD=off: read-write shares have no guard (for benchmarks "
        "only): the guest "
        "can write .git, .claude, .vscode and the other protected paths");
  }
  struct group* g = getgrnam("workspace");
  auto listener = PeerListener::Listen(layout.DaemonSocket(), g ? static_cast<int>(g->gr_gid) : -1);
  if (!listener.ok()) return Fail(listener.status().message());
  PeerListener* peers = listener.value().release();
  auto* service = new ControllerService(*workspaces, *peers);
  grpc::ServerBuilder builder;
  builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(8 << 20);
  grpc::Server* server = builder.BuildAndStart().release();
  if (!server) return Fail("cannot start the gRPC server");
  peers->Serve(server);
  StartConsoleCap(layout.state_dir() + "/workspaces");
  // Running workspaces found again: their egress is taken up (agents connect lazily).
  std::thread([workspaces] { workspaces->ResumeAll(); }).detach();

  Log(std::string("workspace daemon ") + WS_VERSION + " (pid " + std::to_string(getpid()) +
      "): state dir " + layout.state_dir() + ", libvirt " + uri + ", accel " +
      virt::AccelName(accel.value()) + ", socket " + layout.DaemonSocket());

  int sig = 0;
  sigwait(&set, &sig);
  Log(std::string("received ") + strsignal(sig) + "; stopping (running workspaces keep running)");
  if (Templates* t = workspaces->templates()) t->Shutdown();
  // No server->Shutdown(): it waits for handler threads, and a boot or an
  // exec may hold one for minutes. Calls in flight are cut off when the
  // process ends; their VMs are unaffected.
  unlink(layout.DaemonSocket().c_str());
  return 0;
}

}  // namespace ws::controller
