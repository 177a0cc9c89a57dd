// TreeWriter: writes a file tree received from a guest (untrusted) under one
// destination on the host, and never anywhere else. Every path component is
// checked ("", ".", ".." and absolute paths are refused) and opened relative
// to its parent's fd with O_NOFOLLOW, so neither a crafted name nor a symlink
// — sent by the guest or already on the host, or swapped in meanwhile — can
// lead outside. Symlinks are created as links and never followed. Set-id
// bits are dropped. Runs with the CLI user's own rights. Not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/common/unique_fd.h"
#include "workspace/v1/tree.pb.h"

namespace ws::cli {

class TreeWriter {
 public:
  // The tree's root becomes `parent_dir/root_name`.
  static Result<TreeWriter> Open(const std::string& parent_dir, const std::string& root_name);

  Status Entry(const workspace::v1::TreeEntry& e);
  Status Data(const std::string& bytes);  // for the file entry just written
  Status Finish();                        // closes the last file, sets directory times

  uint64_t entries() const { return entries_; }
  uint64_t bytes() const { return bytes_; }

 private:
  TreeWriter(unique_fd parent, std::string root_name)
      : parent_(std::move(parent)), root_name_(std::move(root_name)) {}
  // The directory that holds `rel`'s last component, and that component.
  Result<unique_fd> ParentOf(const std::vector<std::string>& comps);
  Status CloseFile();

  // Applied at Finish, when nothing more is written inside.
  struct DirAttrs {
    std::vector<std::string> comps;
    mode_t mode;
    timespec mtime;
  };

  unique_fd parent_;
  std::string root_name_;
  unique_fd root_;  // the root, once created as a directory
  bool root_done_ = false;
  unique_fd file_;
  timespec file_times_[2] = {};
  std::vector<DirAttrs> dirs_;
  uint64_t entries_ = 0, bytes_ = 0;
};

// Splits a relative '/'-separated path into components; kInvalidArgument for
// absolute paths, empty, "." or ".." components, NULs or over-long names.
Result<std::vector<std::string>> SplitRelative(const std::string& rel);

}  // namespace ws::cli
