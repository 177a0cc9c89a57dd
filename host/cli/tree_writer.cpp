#include "host/cli/tree_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ws::cli {
namespace {

namespace v1 = workspace::v1;

constexpr size_t kMaxPath = 4096;
constexpr size_t kMaxName = 255;

Status Refuse(const std::string& why) {
  return {Code::kInvalidArgument, "refusing the guest's copy: " + why};
}

std::string Join(const std::vector<std::string>& comps) {
  std::string s;
  for (const auto& c : comps) s += (s.empty() ? "" : "/") + c;
  return s;
}

}  // namespace

Result<std::vector<std::string>> SplitRelative(const std::string& rel) {
  std::vector<std::string> out;
  if (rel.empty()) return out;
  if (rel.size() > kMaxPath) return Refuse("path too long");
  if (rel.find('\0') != std::string::npos) return Refuse("NUL in a path");
  if (rel.front() == '/') return Refuse("absolute path '" + rel + "'");
  size_t start = 0;
  for (;;) {
    size_t end = rel.find('/', start);
    std::string comp =
        rel.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (comp.empty() || comp == "." || comp == "..")
      return Refuse("path '" + rel + "' is not a plain relative path");
    if (comp.size() > kMaxName) return Refuse("name too long in '" + rel + "'");
    out.push_back(comp);
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

Result<TreeWriter> TreeWriter::Open(const std::string& parent_dir, const std::string& root_name) {
  auto comps = SplitRelative(root_name);
  if (!comps.ok() || comps->size() != 1) {
    return Status(Code::kInvalidArgument, "invalid destination name '" + root_name + "'");
  }
  unique_fd parent(open(parent_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent) return ErrnoStatus(parent_dir, errno);
  return TreeWriter(std::move(parent), root_name);
}

Result<unique_fd> TreeWriter::ParentOf(const std::vector<std::string>& comps) {
  if (!root_) return Refuse("entries below a root that is not a directory");
  unique_fd dir(dup(root_.get()));
  for (size_t i = 0; i + 1 < comps.size(); ++i) {
    unique_fd next(
        openat(dir.get(), comps[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      return Status(
          Code::kFailedPrecondition,
          "cannot enter '" + Join({comps.begin(), comps.begin() + i + 1}) +
              "' (a symlink or not a directory?): " + ErrnoStatus("", errno).message().substr(2));
    }
    dir = std::move(next);
  }
  return dir;
}

Status TreeWriter::CloseFile() {
  if (!file_) return Status::Ok();
  futimens(file_.get(), file_times_);
  file_.reset();
  return Status::Ok();
}

Status TreeWriter::Entry(const v1::TreeEntry& e) {
  CloseFile();
  auto comps = SplitRelative(e.path());
  if (!comps.ok()) return comps.status();
  const bool is_root = comps->empty();
  if (is_root == root_done_) return Refuse(is_root ? "a second root" : "an entry before the root");
  int dirfd = parent_.get();
  unique_fd holder;
  std::string name = root_name_;
  if (!is_root) {
    auto parent = ParentOf(comps.value());
    if (!parent.ok()) return parent.status();
    holder = std::move(parent.value());
    dirfd = holder.get();
    name = comps->back();
  }
  root_done_ = true;
  ++entries_;
  const mode_t mode = e.mode() & 0777;  // never set-id or sticky bits from a guest
  timespec times[2] = {{0, UTIME_OMIT},
                       {e.mtime_sec(), static_cast<long>(e.mtime_nsec() % 1000000000)}};
  const std::string shown = is_root ? name : Join(comps.value());

  switch (e.type()) {
    case v1::TreeEntry::TYPE_DIR: {
      if (mkdirat(dirfd, name.c_str(), 0700) != 0 && errno != EEXIST)
        return ErrnoStatus("mkdir " + shown, errno);
      unique_fd d(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!d) return ErrnoStatus("'" + shown + "' exists and is not a directory", errno);
      fchmod(d.get(), mode | S_IWUSR | S_IXUSR);  // writable until Finish
      dirs_.push_back({comps.value(), mode, times[1]});
      if (is_root) root_ = std::move(d);
      return Status::Ok();
    }
    case v1::TreeEntry::TYPE_FILE: {
      file_.reset(
          openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!file_) {
        if (errno == ELOOP)
          return Refuse("'" + shown + "' is a symlink on the host; not writing through it");
        return ErrnoStatus("create " + shown, errno);
      }
      struct stat st;
      if (fstat(file_.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        file_.reset();
        return Refuse("'" + shown + "' is not a regular file on the host");
      }
      fchmod(file_.get(), mode);
      file_times_[0] = times[0];
      file_times_[1] = times[1];
      return Status::Ok();
    }
    case v1::TreeEntry::TYPE_SYMLINK: {
      struct stat st;
      if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) return Refuse("'" + shown + "' is a directory on the host");
        unlinkat(dirfd, name.c_str(), 0);
      }
      if (symlinkat(e.link_target().c_str(), dirfd, name.c_str()) != 0) {
        return ErrnoStatus("symlink " + shown, errno);
      }
      utimensat(dirfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return Status::Ok();
    }
    default:
      return Refuse("unknown entry type for '" + shown + "'");
  }
}

Status TreeWriter::Data(const std::string& bytes) {
  if (!file_) return Refuse("data without a file");
  if (!WriteAll(file_.get(), bytes.data(), bytes.size())) return ErrnoStatus("write", errno);
  bytes_ += bytes.size();
  return Status::Ok();
}

Status TreeWriter::Finish() {
  CloseFile();
  // Last first: a directory's mode and time are set after its children.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    unique_fd d;
    if (it->comps.empty()) {
      d.reset(dup(root_.get()));
    } else {
      auto parent = ParentOf(it->comps);
      if (!parent.ok()) continue;
      d.reset(openat(parent->get(), it->comps.back().c_str(),
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!d) continue;
    fchmod(d.get(), it->mode);
    timespec times[2] = {{0, UTIME_OMIT}, it->mtime};
    futimens(d.get(), times);
  }
  return Status::Ok();
}

}  // namespace ws::cli
