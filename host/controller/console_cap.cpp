#include "host/controller/console_cap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "host/common/log.h"
#include "host/common/unique_fd.h"

namespace ws::controller {

Status CapFile(const std::string& path, uint64_t max_bytes) {
  unique_fd fd(open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return errno == ENOENT ? Status::Ok() : ErrnoStatus("opening " + path, errno);
  struct stat st{};
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat " + path, errno);
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) <= max_bytes) return Status::Ok();

  const std::string kept = path + ".1", tmp = path + ".1.tmp";
  unlink(tmp.c_str());
  unique_fd out(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return ErrnoStatus("creating " + tmp, errno);
  off_t from = st.st_size - static_cast<off_t>(max_bytes);
  const off_t end = st.st_size;
  std::string buf(1 << 16, '\0');
  while (from < end) {
    ssize_t n = pread(fd.get(), buf.data(), std::min<off_t>(buf.size(), end - from), from);
    if (n <= 0) break;
    if (write(out.get(), buf.data(), static_cast<size_t>(n)) != n) {
      unlink(tmp.c_str());
      return ErrnoStatus("writing " + tmp, errno);
    }
    from += n;
  }
  if (rename(tmp.c_str(), kept.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus("renaming " + tmp, err);
  }
  if (ftruncate(fd.get(), 0) != 0) return ErrnoStatus("truncating " + path, errno);
  return Status::Ok();
}

void StartConsoleCap(const std::string& workspaces_dir) {
  std::thread([workspaces_dir] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      DIR* d = opendir(workspaces_dir.c_str());
      if (!d) continue;
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        Status s = CapFile(workspaces_dir + "/" + e->d_name + "/console.log", kMaxConsoleBytes);
        if (!s.ok()) Log("console cap: " + s.message());
      }
      closedir(d);
    }
  }).detach();
}

}  // namespace ws::controller
