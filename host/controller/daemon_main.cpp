// workspace-daemon: the daemon's own binary, so that the `workspace` CLI does
// not load libvirt and its ~60 libraries on every command (process start
// went from ~17 to ~6 ms). Users run it as `workspace daemon`, which execs
// this binary from the same directory.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "host/controller/daemon.h"
#include "host/store/layout.h"

int main(int argc, char** argv) {
  CLI::App app{"The workspace daemon (run as root; `workspace daemon` starts this)",
               "workspace daemon"};
  ws::controller::DaemonOptions opts{ws::store::kDefaultStateDir, "", "auto", ""};
  app.add_option("--state-dir", opts.state_dir, "State directory (default /var/lib/workspace)")
      ->envname("WORKSPACE_STATE_DIR");
  app.add_option("--libvirt-uri,--connect", opts.connect_uri,
                 "libvirt URI (default: embedded, no libvirtd)")
      ->envname("WORKSPACE_LIBVIRT_URI");
  app.add_option("--accel", opts.accel, "auto, kvm or tcg")->envname("WORKSPACE_ACCEL");
  app.add_option("--upstream-ca", opts.upstream_ca,
                 "For tests only: one more CA trusted for intercepted hosts' real servers");
  CLI11_PARSE(app, argc, argv);
  if (opts.accel.empty()) opts.accel = "auto";
  int code = ws::controller::RunDaemon(opts);
  // _exit: handler threads may still be blocked in long calls; destructors
  // must not wait for them.
  std::fflush(nullptr);
  _exit(code);
}
