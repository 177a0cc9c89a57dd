#include "host/cli/doctor.h"

#include <google/protobuf/struct.pb.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "host/cli/cli_support.h"
#include "host/cli/exit_codes.h"
#include "host/common/subprocess.h"
#include "host/shares/share_config.h"
#include "host/store/layout.h"
#include "host/virt/accel.h"

namespace ws::cli {
namespace {

namespace fs = std::filesystem;

// Printed as it goes, or (--json) once at the end.
struct Report {
  bool json = false;
  int problems = 0;
  google::protobuf::ListValue checks;
  void Add(const char* status, const std::string& what, const std::string& fix) {
    if (json) {
      auto* o = checks.add_values()->mutable_struct_value()->mutable_fields();
      (*o)["status"].set_string_value(status);
      (*o)["check"].set_string_value(what);
      (*o)["fix"].set_string_value(fix);
      return;
    }
    std::printf("%-8s %s\n", std::string(status) == "problem" ? "PROBLEM" : status, what.c_str());
    if (!fix.empty()) std::printf("         fix: %s\n", fix.c_str());
  }
  void Ok(const std::string& what) { Add("ok", what, ""); }
  void Problem(const std::string& what, const std::string& fix) {
    ++problems;
    Add("problem", what, fix);
  }
  void Check(bool good, const std::string& what, const std::string& fix) {
    good ? Ok(what) : Problem(what, fix);
  }
  // Not a problem of workspace's own: said, not counted.
  void Advise(bool good, const std::string& what, const std::string& fix) {
    if (good) return Ok(what);
    Add("advice", what, fix);
  }
};

bool Executable(const std::string& p) { return access(p.c_str(), X_OK) == 0; }

}  // namespace

int RunDoctor(const GlobalOptions& g, bool json) {
  Report r;
  r.json = json;
  const std::string exe_dir = ExeDir();
  r.Check(Executable("/usr/bin/qemu-system-x86_64"), "QEMU (qemu-system-x86_64)",
          "run ./scripts/setup");
  r.Check(Executable("/usr/lib/qemu/virtiofsd"), "virtiofsd (/usr/lib/qemu/virtiofsd)",
          "run ./scripts/setup");
  r.Check(Executable(exe_dir + "/workspace-daemon"), "the daemon binary workspace-daemon",
          "rebuild: cmake --build build");
  r.Check(Executable(exe_dir + "/workspace-virtiofsd"), "the share wrapper workspace-virtiofsd",
          "rebuild: cmake --build build");
  r.Check(getpwnam("libvirt-qemu") != nullptr, "the libvirt-qemu user QEMU runs as",
          "install libvirt-daemon-system (./scripts/setup)");
  r.Check(getpwnam(shares::kGuestRootUser) != nullptr,
          std::string("the system user ") + shares::kGuestRootUser + " (guest root in shares)",
          "run ./scripts/setup");
  r.Check(getgrnam("workspace") != nullptr, "the workspace group (non-root users)",
          "run ./scripts/setup");
  r.Check(fs::exists(exe_dir + "/../images/minimal/initrd.img") ||
              fs::exists(g.state_dir + "/images/minimal/initrd.img"),
          "the minimal guest image", "build it: cmake --build build (or ./scripts/setup)");
  r.Check(fs::exists(exe_dir + "/../images/debian/image.env") ||
              fs::exists(g.state_dir + "/images/debian/image.env"),
          "the debian guest image (the default)",
          "build it: workspace image build (about a minute)");
  r.Check(Executable("/usr/bin/qemu-img"), "qemu-img (workspace disks)",
          "install qemu-utils (./scripts/setup)");

  virt::KvmFacts kvm = virt::ProbeKvm();
  struct stat st;
  if (stat("/dev/kvm", &st) == 0) {
    group* kvm_group = getgrnam("kvm");
    bool udev_like = kvm_group && st.st_gid == kvm_group->gr_gid && (st.st_mode & 0660) == 0660;
    r.Check(udev_like,
            "/dev/kvm is root:kvm 0660 (else libvirt re-probes QEMU on every start, ~55 s)",
            "chgrp kvm /dev/kvm && chmod 0660 /dev/kvm");
  }
  auto accel = virt::ChooseAccel("auto", kvm);
  r.Ok(std::string("accelerator: ") + virt::AccelName(accel.value()) +
       (kvm.dev_kvm_rw && !kvm.hw_module
            ? " (/dev/kvm is PVM-only: a stock kernel cannot run on it)"
            : ""));

  store::Layout layout(store::NormalizeDir(g.state_dir));
  Status budget = store::CheckSocketBudget(layout);
  r.Check(budget.ok(), "state dir " + layout.state_dir() + " fits unix socket paths",
          budget.message());
  auto client = ConnectDaemon(g);
  r.Check(client.ok(), "the daemon answers at " + layout.DaemonSocket(),
          client.ok() ? "" : client.status().message());
  // A folder the guest fills with HEAD, objects/ and refs/ is a repository
  // to the host's git (a shell prompt runs git in every folder entered): the
  // guard refuses HEAD files in shares; this closes it for the ones already there.
  auto bare = RunCommand({"git", "-C", "/", "config", "--global", "--get", "safe.bareRepository"});
  r.Advise(bare.ok() && bare.value().rfind("explicit", 0) == 0,
           "your git uses only the bare repositories you name (safe.bareRepository=explicit)",
           "git config --global safe.bareRepository explicit");
  if (json) std::printf("%s\n", ToJson(r.checks).c_str());
  return r.problems == 0 ? kOk : kFailure;
}

}  // namespace ws::cli
