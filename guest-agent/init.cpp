#include "guest-agent/init.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
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

void ConfigureUserNetwork() {
  unique_fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto set_addr = [&](unsigned long req, const char* ip) {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sin->sin_addr);
    if (ioctl(s.get(), req, &ifr) != 0) Log("eth0 %s: %s", ip, std::strerror(errno));
  };
  // The NIC appears when virtio_net has probed it.
  for (int i = 0; i < 200 && if_nametoindex("eth0") == 0; ++i) usleep(10000);
  set_addr(SIOCSIFADDR, "10.0.2.15");
  set_addr(SIOCSIFNETMASK, "255.255.255.0");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
  if (ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    ioctl(s.get(), SIOCSIFFLAGS, &ifr);
  }
  rtentry route{};
  auto* gw = reinterpret_cast<sockaddr_in*>(&route.rt_gateway);
  gw->sin_family = AF_INET;
  inet_pton(AF_INET, "10.0.2.2", &gw->sin_addr);
  reinterpret_cast<sockaddr_in*>(&route.rt_dst)->sin_family = AF_INET;
  reinterpret_cast<sockaddr_in*>(&route.rt_genmask)->sin_family = AF_INET;
  route.rt_flags = RTF_UP | RTF_GATEWAY;
  if (ioctl(s.get(), SIOCADDRT, &route) != 0) Log("default route: %s%s", std::strerror(errno));
  std::ofstream("/etc/resolv.conf") << "nameserver 10.0.2.3\n";
}

void PowerOff() {
  sync();
  reboot(RB_POWER_OFF);
  Log("power off: %s%s", std::strerror(errno));
}

}  // namespace ws::agent
