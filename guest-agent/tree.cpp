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
#include "host/common/grpc_status.h"
#include "host/common/tree_walk.h"
#include "host/common/unique_fd.h"

namespace ws::agent {
namespace {

namespace v1 = workspace::v1;

// A failure for the host: its kind where the host tells kinds apart (a
// missing path, no permission, no space: each its own code and message),
// else FAILED_PRECONDITION — never a code the host reads as a broken
// transport (UNAVAILABLE, INTERNAL), nor a usage error (INVALID_ARGUMENT is
// for what the request itself got wrong).
grpc::Status ForHost(const Status& s) {
  switch (s.code()) {
    case Code::kOk:
    case Code::kNotFound:
    case Code::kAlreadyExists:
    case Code::kPermissionDenied:
    case Code::kResourceExhausted:
      return ToGrpc(s);
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition:
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kInternal:
      return {grpc::StatusCode::FAILED_PRECONDITION, s.message()};
  }
  return {grpc::StatusCode::FAILED_PRECONDITION, s.message()};
}

grpc::Status Errno(const std::string& what) { return ForHost(ErrnoStatus(what, errno)); }

bool SafeRelative(const std::string& rel) {
  if (rel.empty()) return true;
  if (rel.front() == '/' || rel.find('\0') != std::string::npos) return false;
  size_t start = 0;
  for (;;) {
    size_t end = rel.find('/', start);
    std::string comp =
        rel.substr(start, end == std::string::npos ? std::string::npos : end - start);
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
  Status s = WalkTree(path, false, [out](const v1::TreeChunk& c) { return out->Write(c); });
  // The host stopped reading: nothing to tell it.
  if (s.code() == Code::kUnavailable) return grpc::Status::CANCELLED;
  return ForHost(s);
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
    if (!SafeRelative(e.path()))
      return {grpc::StatusCode::INVALID_ARGUMENT, "unsafe path: " + e.path()};
    const std::string path = e.path().empty() ? root : root + "/" + e.path();
    timespec times[2] = {{0, UTIME_OMIT}, {e.mtime_sec(), static_cast<long>(e.mtime_nsec())}};
    ++entries;
    switch (e.type()) {
      case v1::TreeEntry::TYPE_DIR:
        if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Errno("mkdir " + path);
        if (lchown(path.c_str(), user->uid, user->gid) != 0 ||
            chmod(path.c_str(), e.mode() & 0777) != 0) {
          return Errno(path);
        }
        pending_times.push_back({path, {times[0], times[1]}});
        break;
      case v1::TreeEntry::TYPE_FILE:
        file.reset(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!file) return Errno("create " + path);
        if (fchown(file.get(), user->uid, user->gid) != 0 ||
            fchmod(file.get(), e.mode() & 0777) != 0) {
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
