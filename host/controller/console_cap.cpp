#include "host/controller/console_cap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "host/common/log.h"
#include "host/common/unique_fd.h"

namespace ws::controller {

Status CapFile(const std::string& path, uint64_t max_bytes) {
  unique_fd fd(open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return errno == ENOENT ? Status::Ok() : ErrnoStatus("opening " + path, errno);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("stat " + path, errno);
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) <= max_bytes) return Status::Ok();

  // The last max_bytes, and what the guest appended while they were copied,
  // go to PATH.1. The file is cut even when that copy cannot be made (a full
  // disk): the bound holds first, the log says what was lost.
  const std::string kept = path + ".1", tmp = path + ".1.tmp";
  auto keep_tail = [&]() -> Status {
    unlink(tmp.c_str());
    unique_fd out(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return ErrnoStatus("creating " + tmp, errno);
    off_t from = st.st_size - static_cast<off_t>(max_bytes);
    off_t end = st.st_size;
    std::string buf(1 << 16, '\0');
    for (int pass = 0; pass < 2; ++pass) {
      while (from < end) {
        ssize_t n = pread(fd.get(), buf.data(), std::min<off_t>(buf.size(), end - from), from);
        if (n <= 0) break;
        if (write(out.get(), buf.data(), static_cast<size_t>(n)) != n) {
          const int err = errno ? errno : ENOSPC;
          unlink(tmp.c_str());
          return ErrnoStatus("writing " + tmp, err);
        }
        from += n;
      }
      struct stat now {};
      if (fstat(fd.get(), &now) != 0 || now.st_size <= end ||
          now.st_size - end > static_cast<off_t>(max_bytes))
        break;
      end = now.st_size;  // appended during the copy: kept too, once
    }
    if (rename(tmp.c_str(), kept.c_str()) != 0) {
      const int err = errno;
      unlink(tmp.c_str());
      return ErrnoStatus("renaming " + tmp, err);
    }
    return Status::Ok();
  };
  Status copied = keep_tail();
  if (ftruncate(fd.get(), 0) != 0) return ErrnoStatus("truncating " + path, errno);
  if (!copied.ok())
    return Status(copied.code(), copied.message() + " (the console was cut without a copy)");
  return Status::Ok();
}

void StartConsoleCap(const std::string& workspaces_dir) {
  std::thread([workspaces_dir] {
    std::map<std::string, std::string> last_error;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      DIR* d = opendir(workspaces_dir.c_str());
      if (!d) continue;
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const std::string path = workspaces_dir + "/" + e->d_name + "/console.log";
        Status s = CapFile(path, kMaxConsoleBytes);
        if (s.ok()) {
          last_error.erase(path);
          continue;
        }
        // Said once per path and error, not every second.
        std::string& said = last_error[path];
        if (s.message() != said) Log("console cap: " + s.message());
        said = s.message();
      }
      closedir(d);
    }
  }).detach();
}

}  // namespace ws::controller
