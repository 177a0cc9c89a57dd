#include "host/cli/doctor.h"

#include <google/protobuf/struct.pb.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>

#include "host/cli/cli_support.h"
#include "host/cli/exit_codes.h"
#include "host/common/printable.h"
#include "host/common/subprocess.h"
#include "host/net/ai_api_hosts.h"
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

// Run in the guest: each tool asks for https://HOST/ through the proxy and
// says whether TLS held (any HTTP answer, a refusal by the host included)
// or failed on the certificate. One line per tool: "ok TOOL", "problem
// TOOL WHY" or "skip TOOL".
std::string TrustScript(const std::string& host) {
  return "h=" + host + R"SCRIPT(
if command -v curl >/dev/null; then
  out=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 "https://$h/" 2>&1) \
    && echo "ok curl" || echo "problem curl $(echo "$out" | tail -1)"
else echo "skip curl"; fi
if command -v python3 >/dev/null; then
  python3 - "$h" <<'EOF'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("https://" + sys.argv[1] + "/", timeout=30); print("ok python")
except urllib.error.HTTPError:
    print("ok python")
except Exception as e:
    print("problem python", str(e).replace("\n", " ")[:200])
EOF
else echo "skip python"; fi
if command -v git >/dev/null; then
  out=$(GIT_TERMINAL_PROMPT=0 git ls-remote "https://$h/workspace-doctor.git" 2>&1)
  case "$out" in *certificate*|*SSL*) echo "problem git $(echo "$out" | tail -1)";; *) echo "ok git";; esac
else echo "skip git"; fi
if command -v node >/dev/null; then
  if [ -r "$NODE_EXTRA_CA_CERTS" ]; then echo "ok node"; else echo "problem node NODE_EXTRA_CA_CERTS is not set to a readable file"; fi
else echo "skip node"; fi
)SCRIPT";
}

// The workspace's tools against one of the hosts it reads (an AI API on
// its allowlist).
void CheckWorkspaceTrust(const GlobalOptions& g, const std::string& name, Report& r) {
  auto inspect =
      RunCommand({ExeDir() + "/workspace", "--state-dir", g.state_dir, "inspect", name, "--json"});
  if (!inspect.ok()) {
    return r.Problem("workspace '" + name + "' can be inspected", inspect.status().message());
  }
  const std::string& json = inspect.value();
  if (json.find("\"state\":\"running\"") == std::string::npos) {
    return r.Problem("workspace '" + name + "' is running", "workspace start " + name);
  }
  std::string host;
  for (const auto& e : net::AiApiHosts()) {
    if (json.find("\"host\":\"" + e.host + "\"") != std::string::npos) {
      host = e.host;
      break;
    }
  }
  if (host.empty()) {
    return r.Ok("workspace '" + name + "' reads no host's requests (no AI API on its allowlist)");
  }
  auto out = RunCommand({ExeDir() + "/workspace", "--state-dir", g.state_dir, "exec", "--timeout",
                         "120", name, "--", "sh", "-c", TrustScript(host)});
  if (!out.ok()) {
    return r.Problem("the trust check ran in workspace '" + name + "'", out.status().message());
  }
  std::istringstream lines(out.value());
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string status, tool, why;
    words >> status >> tool;
    std::getline(words, why);
    if (status == "skip" || tool.empty()) continue;
    const std::string what =
        tool + " in workspace '" + name + "' trusts its CA (https://" + host + ")";
    if (status == "ok") {
      r.Ok(what);
    } else {
      r.Problem(what, "restart the program, or `workspace reset " + name +
                          "`; the image must keep /etc/ssl/certs/ca-certificates.crt (" +
                          Printable(why.substr(0, 200)) + ")");
    }
  }
}

}  // namespace

int RunDoctor(const GlobalOptions& g, bool json, const std::string& workspace) {
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
  if (!workspace.empty() && client.ok()) CheckWorkspaceTrust(g, workspace, r);
  if (json) std::printf("%s\n", ToJson(r.checks).c_str());
  return r.problems == 0 ? kOk : kFailure;
}

}  // namespace ws::cli
