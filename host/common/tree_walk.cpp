#include "host/common/tree_walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "host/common/unique_fd.h"

namespace ws {
namespace {

namespace v1 = workspace::v1;
constexpr size_t kChunk = 256 * 1024;

class Walker {
 public:
  Walker(bool follow, const ChunkSink& emit) : follow_(follow), emit_(emit) {}

  Status Send(int dirfd, const std::string& name, const std::string& rel,
              const std::string& shown) {
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, follow_ ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(shown, errno);
    }
    v1::TreeChunk chunk;
    auto* e = chunk.mutable_entry();
    e->set_path(rel);
    e->set_mode(st.st_mode & 0777);
    e->set_mtime_sec(st.st_mtim.tv_sec);
    e->set_mtime_nsec(static_cast<uint32_t>(st.st_mtim.tv_nsec));
    const int nofollow = follow_ ? 0 : O_NOFOLLOW;
    if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoStatus(shown, errno);
      target.resize(static_cast<size_t>(n));
      e->set_type(v1::TreeEntry::TYPE_SYMLINK);
      e->set_link_target(target);
      return Emit(chunk);
    }
    if (S_ISREG(st.st_mode)) {
      // O_NOFOLLOW: a file swapped for a symlink after fstatat is refused.
      unique_fd fd(openat(dirfd, name.c_str(), O_RDONLY | nofollow | O_CLOEXEC));
      if (!fd) return ErrnoStatus(shown, errno);
      e->set_type(v1::TreeEntry::TYPE_FILE);
      if (auto s = Emit(chunk); !s.ok()) return s;
      std::string buf(kChunk, '\0');
      v1::TreeChunk data;
      for (;;) {
        ssize_t n = read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoStatus(shown, errno);
        if (n == 0) return Status::Ok();
        data.set_data(buf.data(), static_cast<size_t>(n));
        if (auto s = Emit(data); !s.ok()) return s;
      }
    }
    if (S_ISDIR(st.st_mode)) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      if (!on_path_.insert(key).second) {
        return {Code::kFailedPrecondition, shown + ": directory loop through a symlink"};
      }
      e->set_type(v1::TreeEntry::TYPE_DIR);
      if (auto s = Emit(chunk); !s.ok()) return s;
      unique_fd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC));
      if (!fd) return ErrnoStatus(shown, errno);
      std::vector<std::string> names;
      DIR* dir = fdopendir(dup(fd.get()));
      if (!dir) return ErrnoStatus(shown, errno);
      while (dirent* d = readdir(dir)) {
        if (std::strcmp(d->d_name, ".") && std::strcmp(d->d_name, "..")) names.push_back(d->d_name);
      }
      closedir(dir);
      std::sort(names.begin(), names.end());
      for (const auto& n : names) {
        Status s = Send(fd.get(), n, rel.empty() ? n : rel + "/" + n, shown + "/" + n);
        if (!s.ok()) return s;
      }
      on_path_.erase(key);
      return Status::Ok();
    }
    return Status::Ok();  // devices, sockets, fifos: not copied
  }

 private:
  Status Emit(const v1::TreeChunk& c) {
    return emit_(c) ? Status::Ok()
                    : Status(Code::kUnavailable, "the copy stream to the guest broke");
  }
  bool follow_;
  const ChunkSink& emit_;
  std::set<std::pair<dev_t, ino_t>> on_path_;
};

}  // namespace

Status WalkTree(const std::string& path, bool follow_symlinks, const ChunkSink& emit) {
  std::string parent = ".", name = path;
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos) {
    parent = slash == 0 ? "/" : path.substr(0, slash);
    name = path.substr(slash + 1);
  }
  if (name.empty() || name == "." || name == "..") {
    parent = path;
    name = ".";
  }
  unique_fd dir(open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return ErrnoStatus(path, errno);
  return Walker(follow_symlinks, emit).Send(dir.get(), name, "", path);
}

}  // namespace ws
