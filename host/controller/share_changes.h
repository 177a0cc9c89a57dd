// What the guest did to a workspace's read-write shares, as its share guards
// recorded it: the host-run files it created or changed (`workspace
// changes`), checked against the folder as it is now.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "host/virt/metadata.h"

namespace ws::controller {

struct ShareChange {
  std::string host_path;  // the share's folder
  std::string path;       // relative to it, Printable
  std::string kind;       // created, modified, chmod
  std::string time;
  bool exists = false;
  bool executable = false;
};

struct ShareChanges {
  std::vector<ShareChange> changes;
  bool truncated = false;
};

// `spec_dir_of(tag)` is a share's spec dir. Each path is looked up beneath
// its folder without following a symlink; one that is gone is still listed.
ShareChanges ReadShareChanges(const virt::WorkspaceMeta& meta,
                              const std::function<std::string(const std::string&)>& spec_dir_of);

}  // namespace ws::controller
