#include "guest-agent/tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "guest-agent/users.h"
#include "host/common/unique_fd.h"

namespace ws::agent {
namespace {

namespace v1 = workspace::v1;
constexpr size_t kChunk = 256 * 1024;

grpc::Status Errno(const std::string& what) {
  return {grpc::StatusCode::FAILED_PRECONDITION, what + ": " + std::strerror(errno)};
}

class TreeReader {
 public:
  explicit TreeReader(grpc::ServerWriter<v1::TreeChunk>* out) : out_(out) {}

  // Sends `name` (relative path `rel`) found in directory `dirfd`.
  grpc::Status Send(int dirfd, const std::string& name, const std::string& rel) {
    struct stat st;
    if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Errno(name);
    v1::TreeChunk chunk;
    auto* e = chunk.mutable_entry();
    e->set_path(rel);
    e->set_mode(st.st_mode & 0777);
    e->set_mtime_sec(st.st_mtim.tv_sec);
    e->set_mtime_nsec(static_cast<uint32_t>(st.st_mtim.tv_nsec));
    if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) return Errno(name);
      target.resize(static_cast<size_t>(n));
      e->set_type(v1::TreeEntry::TYPE_SYMLINK);
      e->set_link_target(target);
      return Write(chunk);
    }
    if (S_ISREG(st.st_mode)) {
      unique_fd fd(openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return Errno(name);
      e->set_type(v1::TreeEntry::TYPE_FILE);
      if (auto s = Write(chunk); !s.ok()) return s;
      std::string buf(kChunk, '\0');
      v1::TreeChunk data;
      for (;;) {
        ssize_t n = read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Errno(name);
        if (n == 0) return grpc::Status::OK;
        data.set_data(buf.data(), static_cast<size_t>(n));
        if (auto s = Write(data); !s.ok()) return s;
      }
    }
    if (S_ISDIR(st.st_mode)) {
      e->set_type(v1::TreeEntry::TYPE_DIR);
      if (auto s = Write(chunk); !s.ok()) return s;
      unique_fd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return Errno(name);
      std::vector<std::string> names;
      DIR* dir = fdopendir(dup(fd.get()));
      if (!dir) return Errno(name);
      while (dirent* d = readdir(dir)) {
        if (std::strcmp(d->d_name, ".") && std::strcmp(d->d_name, "..")) names.push_back(d->d_name);
      }
      closedir(dir);
      std::sort(names.begin(), names.end());
      for (const auto& n : names) {
        if (auto s = Send(fd.get(), n, rel.empty() ? n : rel + "/" + n); !s.ok()) return s;
      }
      return grpc::Status::OK;
    }
    return grpc::Status::OK;  // devices, sockets, fifos: not copied
  }

 private:
  grpc::Status Write(const v1::TreeChunk& c) {
    return out_->Write(c) ? grpc::Status::OK : grpc::Status::CANCELLED;
  }
  grpc::ServerWriter<v1::TreeChunk>* out_;
};

bool SafeRelative(const std::string& rel) {
  if (rel.empty()) return true;
  if (rel.front() == '/' || rel.find('\0') != std::string::npos) return false;
  size_t start = 0;
  for (;;) {
    size_t end = rel.find('/', start);
    std::string comp = rel.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (comp.empty() || comp == "." || comp == "..") return false;
    if (end == std::string::npos) return true;
    start = end + 1;
  }
}

struct PendingTime {
  std::string path;
  timespec times[2];
};

}  // namespace

grpc::Status ReadTree(const std::string& path, grpc::ServerWriter<v1::TreeChunk>* out) {
  if (path.empty() || path.front() != '/') {
    return {grpc::StatusCode::INVALID_ARGUMENT, "guest path must be absolute: " + path};
  }
  std::string parent = path.substr(0, path.find_last_of('/'));
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (name.empty()) {  // "/" or "dir/"
    parent = path;
    name = ".";
  }
  unique_fd dir(open(parent.empty() ? "/" : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return {grpc::StatusCode::NOT_FOUND, path + ": " + std::strerror(errno)};
  struct stat st;
  if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return {grpc::StatusCode::NOT_FOUND, path + ": " + std::strerror(errno)};
  }
  return TreeReader(out).Send(dir.get(), name, "");
}

grpc::Status WriteTree(grpc::ServerReader<v1::TreeChunk>* in, v1::WriteTreeResponse* resp) {
  v1::TreeChunk chunk;
  if (!in->Read(&chunk) || !chunk.has_start()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "WriteTree must begin with start"};
  }
  const auto start = chunk.start();
  if (start.dest().empty() || start.dest().front() != '/') {
    return {grpc::StatusCode::INVALID_ARGUMENT, "guest path must be absolute: " + start.dest()};
  }
  auto user = LookupUser(start.user());
  if (!user.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, user.status().message()};
  std::string root = start.dest();
  struct stat st;
  if (stat(root.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    if (!SafeRelative(start.root_name()) || start.root_name().find('/') != std::string::npos ||
        start.root_name().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "bad root name: " + start.root_name()};
    }
    root += (root.back() == '/' ? "" : "/") + start.root_name();
  }
  resp->set_root(root);

  unique_fd file;
  std::vector<PendingTime> pending_times;
  uint64_t entries = 0, bytes = 0;
  while (in->Read(&chunk)) {
    if (chunk.has_data()) {
      if (!file) return {grpc::StatusCode::INVALID_ARGUMENT, "data without a file entry"};
      if (!WriteAll(file.get(), chunk.data().data(), chunk.data().size())) return Errno("write");
      bytes += chunk.data().size();
      continue;
    }
    if (!chunk.has_entry()) return {grpc::StatusCode::INVALID_ARGUMENT, "unexpected message"};
    file.reset();
    const auto& e = chunk.entry();
    if (!SafeRelative(e.path())) return {grpc::StatusCode::INVALID_ARGUMENT, "unsafe path: " + e.path()};
    const std::string path = e.path().empty() ? root : root + "/" + e.path();
    timespec times[2] = {{0, UTIME_OMIT}, {e.mtime_sec(), static_cast<long>(e.mtime_nsec())}};
    ++entries;
    switch (e.type()) {
      case v1::TreeEntry::TYPE_DIR:
        if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Errno("mkdir " + path);
        if (lchown(path.c_str(), user->uid, user->gid) != 0 || chmod(path.c_str(), e.mode() & 0777) != 0) {
          return Errno(path);
        }
        pending_times.push_back({path, {times[0], times[1]}});
        break;
      case v1::TreeEntry::TYPE_FILE:
        file.reset(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!file) return Errno("create " + path);
        if (fchown(file.get(), user->uid, user->gid) != 0 || fchmod(file.get(), e.mode() & 0777) != 0) {
          return Errno(path);
        }
        pending_times.push_back({path, {times[0], times[1]}});  // after the data is written
        break;
      case v1::TreeEntry::TYPE_SYMLINK:
        unlink(path.c_str());
        if (symlink(e.link_target().c_str(), path.c_str()) != 0) return Errno("symlink " + path);
        if (lchown(path.c_str(), user->uid, user->gid) != 0) return Errno(path);
        utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW);
        break;
      default:
        return {grpc::StatusCode::INVALID_ARGUMENT, "unknown entry type for " + e.path()};
    }
  }
  file.reset();
  // Last first: a directory's time is set after its children are written.
  for (auto it = pending_times.rbegin(); it != pending_times.rend(); ++it) {
    utimensat(AT_FDCWD, it->path.c_str(), it->times, AT_SYMLINK_NOFOLLOW);
  }
  resp->set_entries(entries);
  resp->set_bytes(bytes);
  return grpc::Status::OK;
}

}  // namespace ws::agent
