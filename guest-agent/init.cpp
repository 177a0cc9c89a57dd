#include "guest-agent/init.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "host/common/unique_fd.h"

namespace ws::agent {
namespace {

namespace fs = std::filesystem;

void Log(const char* fmt, const char* a, const char* b = "") {
  std::fprintf(stderr, "workspace-agent: ");
  std::fprintf(stderr, fmt, a, b);
  std::fprintf(stderr, "\n");
}

void Mount(const char* src, const char* target, const char* type, unsigned long flags,
           const char* data = nullptr) {
  mkdir(target, 0755);
  if (mount(src, target, type, flags, data) != 0 && errno != EBUSY) {
    Log("mount %s: %s", target, std::strerror(errno));
  }
}

// Loads the modules named in /etc/workspace/modules, in order (the image
// build wrote them in dependency order with modprobe --show-depends).
void LoadModules() {
  std::ifstream list("/etc/workspace/modules");
  std::string path;
  while (std::getline(list, path)) {
    if (path.empty()) continue;
    unique_fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      Log("module %s: %s", path.c_str(), std::strerror(errno));
      continue;
    }
    if (syscall(SYS_finit_module, fd.get(), "", 0) != 0 && errno != EEXIST) {
      Log("load %s: %s", path.c_str(), std::strerror(errno));
    }
  }
}

void BringUpLoopback() {
  unique_fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (!s || ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Log("lo: %s", std::strerror(errno));
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) Log("lo up: %s", std::strerror(errno));
}

void MakeDirs(const std::string& path) {
  for (size_t at = 1; at != std::string::npos;) {
    at = path.find('/', at + 1);
    mkdir(path.substr(0, at).c_str(), 0755);
  }
}

// Mounts the virtiofs shares the host listed as workspace.share=TAG:PATH:MODE.
// The host enforces read-only; the guest mount flag only matches it.
void MountShares() {
  for (const auto& spec : KernelArgs("workspace.share")) {
    auto a = spec.find(':'), b = spec.rfind(':');
    if (a == std::string::npos || a == b) {
      Log("bad share spec %s%s", spec.c_str());
      continue;
    }
    std::string tag = spec.substr(0, a), path = spec.substr(a + 1, b - a - 1), mode = spec.substr(b + 1);
    MakeDirs(path);
    unsigned long flags = MS_NOSUID | MS_NODEV | (mode == "ro" ? MS_RDONLY : 0);
    if (mount(tag.c_str(), path.c_str(), "virtiofs", flags, nullptr) != 0) {
      Log("mount share %s: %s", path.c_str(), std::strerror(errno));
    }
  }
}

}  // namespace

std::vector<std::string> KernelArgs(const std::string& key) {
  std::ifstream f("/proc/cmdline");
  std::string word;
  std::vector<std::string> out;
  while (f >> word) {
    if (word.rfind(key + "=", 0) == 0) out.push_back(word.substr(key.size() + 1));
  }
  return out;
}

std::string KernelArg(const std::string& key) {
  auto all = KernelArgs(key);
  return all.empty() ? "" : all.front();
}

void InitSystem() {
  Mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  Mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  Mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  Mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
  Mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  Mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  Mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  LoadModules();
  BringUpLoopback();
  MountShares();
  std::string name = KernelArg("workspace.name");
  if (!name.empty() && sethostname(name.c_str(), name.size()) != 0) {
    Log("hostname %s: %s", name.c_str(), std::strerror(errno));
  }
}

std::string FindPort(const std::string& name, std::chrono::milliseconds wait) {
  auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/sys/class/virtio-ports", ec)) {
      std::ifstream f(entry.path() / "name");
      std::string port_name;
      if (std::getline(f, port_name) && port_name == name) {
        return "/dev/" + entry.path().filename().string();
      }
    }
    if (std::chrono::steady_clock::now() >= until) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void PowerOff() {
  sync();
  reboot(RB_POWER_OFF);
  Log("power off: %s%s", std::strerror(errno));
}

}  // namespace ws::agent
