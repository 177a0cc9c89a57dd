#include "guest-agent/cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ws::agent {
namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";
constexpr const char* kParent = "/sys/fs/cgroup/workspace-exec";

// Emptied exec cgroups kept for reuse: making and removing a cgroup costs
// the one vCPU ~0.3 ms plus RCU work that competed with the next exec's
// spawn and reply (measured under TCG).
constexpr size_t kMaxSpare = 8;
std::mutex spare_mu;
std::vector<std::string> spare;  // guarded by spare_mu

bool Populated(const std::string& dir) {
  // Plain reads: an ifstream costs the one vCPU more than the read itself.
  char buf[256];
  int fd = open((dir + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return strstr(buf, "populated 1") != nullptr;
}

// A spare cgroup whose last processes are gone, or "".
std::string TakeSpare() {
  std::lock_guard lock(spare_mu);
  for (auto it = spare.begin(); it != spare.end(); ++it) {
    if (!Populated(*it)) {
      std::string dir = std::move(*it);
      spare.erase(it);
      return dir;
    }
  }
  return "";
}

bool Cgroup2Mounted() {
  struct statfs fs;
  return statfs(kRoot, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

std::unique_ptr<ExecCgroup> ExecCgroup::Create() {
  static const bool available = Cgroup2Mounted() && (mkdir(kParent, 0755) == 0 || errno == EEXIST);
  if (!available) return nullptr;
  std::string dir = TakeSpare();
  if (dir.empty()) {
    static std::atomic<uint64_t> next{0};
    dir = std::string(kParent) + "/" + std::to_string(getpid()) + "-" + std::to_string(++next);
    if (mkdir(dir.c_str(), 0755) != 0) return nullptr;
  }
  unique_fd procs(open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!procs) {
    rmdir(dir.c_str());
    return nullptr;
  }
  return std::unique_ptr<ExecCgroup>(new ExecCgroup(dir, std::move(procs)));
}

void ExecCgroup::Kill() {
  int fd = open((dir_ + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!write(fd, "1", 1);
    close(fd);
  }
}

void ExecCgroup::WaitEmpty(std::chrono::milliseconds limit) const {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (Populated(dir_) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

ExecCgroup::~ExecCgroup() {
  Kill();
  procs_.reset();
  {
    // Reused once empty (the kernel reaps what cgroup.kill hit a moment later).
    std::lock_guard lock(spare_mu);
    if (spare.size() < kMaxSpare) {
      spare.push_back(dir_);
      return;
    }
  }
  // rmdir fails until the group is empty.
  for (int i = 0; i < 200 && Populated(dir_); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  rmdir(dir_.c_str());
}

}  // namespace ws::agent
