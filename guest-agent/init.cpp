#include "guest-agent/init.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "guest-agent/identity.h"
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

// Waits for the block device `dev`, mounts it and makes it the root
// (switch_root without exec: the agent keeps running from the initramfs's
// pages, so the disk carries no agent and an agent update needs no new
// disk). /proc, /sys and /dev move along. False when the disk cannot be
// mounted: the guest must not come up on the wrong root.
bool SwitchToDisk(const std::string& dev) {
  for (int i = 0; i < 1000 && access(dev.c_str(), F_OK) != 0; ++i) usleep(10000);
  mkdir("/sysroot", 0755);
  if (mount(dev.c_str(), "/sysroot", "ext4", MS_NOATIME, nullptr) != 0) {
    Log("mount root %s: %s", dev.c_str(), std::strerror(errno));
    return false;
  }
  for (const char* d : {"/dev", "/proc", "/sys"}) {
    std::string target = std::string("/sysroot") + d;
    mkdir(target.c_str(), 0755);
    if (mount(d, target.c_str(), nullptr, MS_MOVE, nullptr) != 0)
      Log("move %s: %s", d, std::strerror(errno));
  }
  if (chdir("/sysroot") != 0 || mount(".", "/", nullptr, MS_MOVE, nullptr) != 0 ||
      chroot(".") != 0 || chdir("/") != 0) {
    Log("switch root to %s: %s", dev.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

// Size in bytes of the ext4 file system on `dev`, from its superblock.
uint64_t Ext4Bytes(int fd) {
  unsigned char sb[1024];
  if (pread(fd, sb, sizeof sb, 1024) != static_cast<ssize_t>(sizeof sb)) return 0;
  auto u32 = [&](size_t off) {
    return uint32_t(sb[off]) | uint32_t(sb[off + 1]) << 8 | uint32_t(sb[off + 2]) << 16 |
           uint32_t(sb[off + 3]) << 24;
  };
  if ((u32(0x38) & 0xffff) != 0xEF53) return 0;
  uint64_t blocks = u32(0x4);
  if (u32(0x60) & 0x80) blocks |= uint64_t(u32(0x150)) << 32;  // INCOMPAT_64BIT
  return blocks << (10 + u32(0x18));
}

// The workspace's disk is usually larger than the image's file system
// (--disk): grow it online, once, in the background (first exec need not
// wait for it).
void GrowRootFs(const std::string& dev) {
  unique_fd fd(open(dev.c_str(), O_RDONLY | O_CLOEXEC));
  uint64_t dev_bytes = 0;
  if (!fd || ioctl(fd.get(), BLKGETSIZE64, &dev_bytes) != 0) return;
  uint64_t fs_bytes = Ext4Bytes(fd.get());
  if (fs_bytes == 0 || fs_bytes + (8 << 20) >= dev_bytes) return;
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    execl("/sbin/resize2fs", "resize2fs", dev.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid < 0) Log("resize2fs: %s%s", std::strerror(errno));
}

// True while a process other than this one runs (kernel threads, which
// have no command line, do not count).
bool UserProcessesLeft() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid == "1" || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "cmdline");
    if (f.get() != std::ifstream::traits_type::eof()) return true;
  }
  return false;
}

}  // namespace

const boot::BootParams& Boot() {
  static const boot::BootParams params = [] {
    std::ifstream f("/proc/cmdline");
    std::string line;
    std::getline(f, line);
    auto decoded = boot::Decode(line);
    if (decoded.ok()) return decoded.value();
    // Booted by another host build: no shares, no identity; the agent still
    // answers, and the host's handshake names the mismatch.
    Log("boot parameters: %s%s", decoded.status().message().c_str());
    return boot::BootParams{};
  }();
  return params;
}

void MakeDirs(const std::string& path) {
  for (size_t at = 1; at != std::string::npos;) {
    at = path.find('/', at + 1);
    mkdir(path.substr(0, at).c_str(), 0755);
  }
}

bool InitSystem() {
  Mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  Mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  Mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  LoadModules();
  const std::string root = Boot().root;
  if (!root.empty() && !SwitchToDisk(root)) return false;
  Mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
  // What udev or systemd make elsewhere (devtmpfs does not): scripts write
  // to /dev/stdout and /dev/stderr, and bash's process substitution needs
  // /dev/fd. Without them, root writing to /dev/stdout made a plain file.
  const std::pair<const char*, const char*> links[] = {{"/dev/fd", "/proc/self/fd"},
                                                       {"/dev/stdin", "/proc/self/fd/0"},
                                                       {"/dev/stdout", "/proc/self/fd/1"},
                                                       {"/dev/stderr", "/proc/self/fd/2"}};
  for (const auto& [link, target] : links) {
    if (symlink(target, link) != 0 && errno != EEXIST) Log("%s: %s", link, std::strerror(errno));
  }
  Mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  Mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  Mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  // favordynmods: moving each exec's child into its cgroup otherwise waits
  // for an RCU grace period (measured: ~5 ms of a 10 ms exec under TCG).
  Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "favordynmods");
  setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  BringUpLoopback();
  if (!root.empty()) GrowRootFs(root);
  return true;
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

void ZeroFreeMemory() {
  std::ifstream meminfo("/proc/meminfo");
  uint64_t free_kib = 0;
  for (std::string key; meminfo >> key;) {
    uint64_t v = 0;
    meminfo >> v;
    meminfo.ignore(64, '\n');
    if (key == "MemFree:") free_kib = v;
  }
  const uint64_t margin_kib = 32 << 10;  // left to the kernel: no reclaim, no OOM
  if (free_kib <= margin_kib) return;
  pid_t pid = fork();
  if (pid == 0) {
    // Each page is zeroed by the kernel as it is faulted in, then freed
    // when the child ends.
    const size_t bytes = static_cast<size_t>(free_kib - margin_kib) << 10;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NORESERVE, -1, 0);
    _exit(p == MAP_FAILED ? 1 : 0);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
}

void PowerOff() {
  // Every process but this one: a polite signal, a moment, then the end.
  if (getpid() == 1) {
    kill(-1, SIGTERM);
    for (int i = 0; i < 50 && UserProcessesLeft(); ++i) usleep(20000);
    kill(-1, SIGKILL);
  }
  sync();
  // A disk root is left clean (no journal replay, nothing half-written).
  for (const auto& sh : MountedShares()) umount2(sh.guest_path.c_str(), MNT_DETACH);
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY, nullptr) != 0 && errno != EINVAL) {
    Log("remount / read-only: %s%s", std::strerror(errno));
  }
  sync();
  reboot(RB_POWER_OFF);
  Log("power off: %s%s", std::strerror(errno));
}

}  // namespace ws::agent
