// workspace-virtiofsd: what libvirt runs as the virtiofsd binary of each
// share (<binary path=.../>), so it lives and dies with the domain. libvirt
// passes `--fd=N -o source=SPEC_DIR[,...]`; SPEC_DIR holds share.conf from
// the daemon. The wrapper builds the share's view in a private mount
// namespace, starts the share guard beside it (read-write shares), installs
// the seccomp filters, and execs the real virtiofsd on the view with the
// namespace sandbox, mknod and setfcap dropped, no xattrs.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "host/common/printable.h"
#include "host/common/unix_socket.h"
#include "host/shares/guard.h"
#include "host/shares/seccomp_filter.h"
#include "host/shares/share_config.h"
#include "host/shares/view.h"

namespace {

constexpr const char* kVirtiofsd = "/usr/lib/qemu/virtiofsd";

int Fail(const std::string& msg) {
  std::fprintf(stderr, "workspace-virtiofsd: %s\n", msg.c_str());
  return 1;
}

// Forks the guard, loads its filter here (virtiofsd inherits it) and hands
// the guard the listener. The guard is forked first, so it runs unfiltered.
ws::Status StartGuard(const ws::shares::ShareConfig& c, const std::string& spec_dir) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
    return ws::ErrnoStatus("socketpair", errno);
  ws::unique_fd mine(sp[0]), theirs(sp[1]);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return ws::ErrnoStatus("fork", errno);
  if (pid == 0) {
    mine.reset();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    auto fd = ws::RecvFd(theirs.get());
    if (!fd.ok()) _exit(1);
    ws::shares::ProtectionRules rules{c.protect, c.writable};
    // A hooks folder git's config names now (it may have changed since create).
    for (const auto& rel :
         ws::shares::GitHooksFolders(c.host_path, spec_dir + "/" + ws::shares::kViewDir))
      rules.extra.push_back(rel);
    ws::shares::GuardConfig g{spec_dir + "/" + ws::shares::kViewDir, rules, spec_dir, c.audit_log,
                              c.workspace};
    ws::shares::RunGuard(std::move(fd.value()), g);
    _exit(0);
  }
  theirs.reset();
  auto listener = ws::shares::InstallGuardFilter();
  if (!listener.ok()) return listener.status();
  return ws::SendFd(mine.get(), listener->get());
}

// Splits "-o a,b,c" values; returns the options without the ones we decide.
std::vector<std::string> SplitOptions(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> passthrough, options;
  std::string spec_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    if (a == "-o" && i + 1 < argc) {
      value = argv[++i];
    } else if (a.rfind("-o", 0) == 0 && a.size() > 2) {
      value = a.substr(2);
    } else {
      // One request at a time (virtiofsd's default): the guard looks at a
      // call before the kernel runs it, and no other guest request may
      // rename a name in between.
      if (a.rfind("--thread-pool-size", 0) != 0) passthrough.push_back(a);
      if (a == "--thread-pool-size" && i + 1 < argc) ++i;
      continue;
    }
    for (const auto& opt : SplitOptions(value)) {
      if (opt.rfind("source=", 0) == 0) {
        spec_dir = opt.substr(7);
      } else if (opt == "xattr" || opt == "no_xattr" || opt.rfind("sandbox=", 0) == 0 ||
                 opt.rfind("modcaps=", 0) == 0 || opt.rfind("xattrmap=", 0) == 0) {
        continue;  // decided here, not by the caller
      } else {
        options.push_back(opt);
      }
    }
  }
  if (spec_dir.empty()) return Fail("no -o source=SPEC_DIR given");

  std::ifstream f(spec_dir + "/" + ws::shares::kConfigFile);
  std::stringstream text;
  text << f.rdbuf();
  if (!f) return Fail("cannot read " + spec_dir + "/" + ws::shares::kConfigFile);
  auto config = ws::shares::ParseShareConfig(text.str());
  if (!config.ok()) return Fail(config.status().message());

  auto view = ws::shares::BuildView(config.value(), spec_dir);
  if (!view.ok())
    return Fail("building the view of " + config->host_path + ": " + view.status().message());
  std::fprintf(stderr,
               "workspace-virtiofsd: secret scan: %zu entries in %.0f ms; %zu hidden, %zu without "
               "credentials%s\n",
               view->scan_entries, view->scan_ms, view->hidden.size(), view->stripped.size(),
               view->scan_cut ? " (a bound was reached: folders past it covered)" : "");
  for (const auto& h : view->hidden)
    std::fprintf(stderr, "workspace-virtiofsd: hiding %s\n", ws::Printable(h).c_str());
  for (const auto& h : view->stripped) {
    std::fprintf(stderr, "workspace-virtiofsd: without credentials %s\n", ws::Printable(h).c_str());
  }
  for (const auto& p : view->protected_) {
    std::fprintf(stderr, "workspace-virtiofsd: read-only %s\n", ws::Printable(p).c_str());
  }

  if (!config->read_only && config->guard) {
    if (auto s = StartGuard(config.value(), spec_dir); !s.ok())
      return Fail("starting the share guard: " + s.message());
  }
  if (auto s = ws::shares::InstallShareFilter(); !s.ok()) return Fail(s.message());

  std::string opts = "source=" + spec_dir + "/" + ws::shares::kViewDir +
                     ",sandbox=namespace,no_xattr,modcaps=-mknod:-setfcap";
  for (const auto& o : options) opts += "," + o;
  std::vector<std::string> args = {kVirtiofsd};
  args.insert(args.end(), passthrough.begin(), passthrough.end());
  args.push_back("--thread-pool-size=0");
  args.push_back("-o");
  args.push_back(opts);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  execv(kVirtiofsd, cargs.data());
  return Fail(std::string("exec ") + kVirtiofsd + " failed");
}
