#include "host/common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <mutex>

namespace ws {
namespace {

std::mutex mu;
int log_fd = -1;  // guarded by mu

}  // namespace

bool OpenLog(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  std::lock_guard lock(mu);
  if (log_fd >= 0) close(log_fd);
  log_fd = fd;
  return true;
}

void Log(const std::string& message) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ ", &tm);
  std::string line = ts + message + "\n";
  std::lock_guard lock(mu);
  if (log_fd >= 0) (void)!write(log_fd, line.data(), line.size());
  if (log_fd < 0 || isatty(2)) (void)!write(2, line.data(), line.size());
}

}  // namespace ws
