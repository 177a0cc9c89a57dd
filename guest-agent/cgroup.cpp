#include "guest-agent/cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

namespace ws::agent {
namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";
constexpr const char* kParent = "/sys/fs/cgroup/workspace-exec";

bool Cgroup2Mounted() {
  struct statfs fs;
  return statfs(kRoot, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

std::unique_ptr<ExecCgroup> ExecCgroup::Create() {
  static const bool available = Cgroup2Mounted() && (mkdir(kParent, 0755) == 0 || errno == EEXIST);
  if (!available) return nullptr;
  static std::atomic<uint64_t> next{0};
  std::string dir = std::string(kParent) + "/" + std::to_string(getpid()) + "-" + std::to_string(++next);
  if (mkdir(dir.c_str(), 0755) != 0) return nullptr;
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

bool ExecCgroup::Populated() const {
  std::ifstream events(dir_ + "/cgroup.events");
  std::string key;
  int value = 0;
  while (events >> key >> value) {
    if (key == "populated") return value != 0;
  }
  return false;
}

ExecCgroup::~ExecCgroup() {
  Kill();
  // The kernel needs a moment to reap what cgroup.kill hit; rmdir fails until then.
  for (int i = 0; i < 200 && Populated(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  procs_.reset();
  rmdir(dir_.c_str());
}

}  // namespace ws::agent
