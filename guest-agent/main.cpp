// workspace-agent: the guest side of a workspace. As PID 1 it first does the
// init duties; then it serves the GuestAgent service on the virtio-serial
// port (in a VM) or on a unix socket (tests: --unix PATH).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "guest-agent/guest_config.h"
#include "guest-agent/identity.h"
#include "guest-agent/init.h"
#include "guest-agent/proxy.h"
#include "guest-agent/reaper.h"
#include "guest-agent/relay.h"
#include "guest-agent/service.h"

namespace {

constexpr const char* kPortName = "org.workspace.agent.0";

int Usage() {
  std::fprintf(stderr,
               "usage: workspace-agent [--port NAME | --unix PATH]\n"
               "  --port NAME  serve on the virtio-serial port NAME (default %s)\n"
               "  --unix PATH  serve on a unix socket (for tests)\n",
               kPortName);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string port_name = kPortName, unix_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--version") {
      std::printf("workspace-agent %s\n", WS_VERSION);
      return 0;
    } else if (a == "--port" && i + 1 < argc) {
      port_name = argv[++i];
    } else if (a == "--unix" && i + 1 < argc) {
      unix_path = argv[++i];
    } else if (getpid() != 1) {  // the kernel may pass its own arguments to init
      return Usage();
    }
  }
  signal(SIGPIPE, SIG_IGN);
  const bool pid1 = getpid() == 1;
  if (pid1) {
    std::fprintf(stderr, "workspace-agent %s: starting as init\n", WS_VERSION);
    if (!ws::agent::InitSystem()) {
      std::fprintf(stderr, "workspace-agent: cannot mount the root disk; powering off\n");
      ws::agent::PowerOff();
    }
  }
  // Before the reaper, which would take its child.
  if (pid1 && ws::agent::Boot().template_boot) ws::agent::ZeroFreeMemory();
  ws::agent::Reaper::Instance();  // reap from now on (as PID 1: every orphan)
  const auto& boot = ws::agent::Boot();
  if (pid1 && boot.net == ws::NetMode::kOpen) ws::agent::ConfigureUserNetwork();
  if (pid1 && !boot.root.empty()) ws::agent::ConfigureGuest(boot.net);
  // What the command line names (a cold boot); a guest restored from a
  // template gets its identity from the host instead (Configure).
  if (pid1) {
    try {  // PID 1 must not end: a bug here costs the identity, not the guest
      (void)ws::agent::ApplyIdentity(ws::agent::BootIdentity());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "workspace-agent: identity: %s\n", e.what());
    }
  }
  if (pid1 && boot.net == ws::NetMode::kAllowlist) {
    if (auto s = ws::agent::EgressProxy::Instance().Start(); !s.ok()) {
      std::fprintf(stderr, "workspace-agent: %s\n", s.message().c_str());
    }
  }

  ws::agent::AgentService service([&] {
    if (pid1) ws::agent::PowerOff();
    std::_Exit(0);  // outside a VM there is nothing to power off: just end
  });
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(8 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "workspace-agent: cannot start the gRPC server\n");
    return 1;
  }

  if (!unix_path.empty()) {
    ws::agent::ServeOnUnixSocket(server.get(), unix_path);
  } else {
    std::string port = ws::agent::FindPort(port_name, std::chrono::seconds(30));
    if (port.empty()) {
      std::fprintf(stderr, "workspace-agent: virtio-serial port %s not found\n", port_name.c_str());
    } else {
      std::fprintf(stderr, "workspace-agent %s: ready on %s\n", WS_VERSION, port.c_str());
      ws::agent::ServeOnPort(server.get(), port);
    }
  }
  // As PID 1 we must never exit (the kernel would panic): power off instead.
  if (pid1) ws::agent::PowerOff();
  return 1;
}
