// `workspace cp [-L] SRC DST`: copies files and directories between the host
// and a workspace (`NAME:/path` on one side), streamed, with modes and
// mtimes. The host side is read and written by this process, with the
// user's own rights; what the guest sends is checked by TreeWriter.
#pragma once

#include <string>

#include "workspace/v1/controller.grpc.pb.h"

namespace ws::cli {

struct CpOptions {
  std::string src, dst;
  bool follow_symlinks = false;  // -L: dereference host symlinks on copy-in
};

// 0 on success, 1 on failure, 2 on a usage error (one line on stderr).
int RunCp(workspace::v1::Controller::Stub* stub, const CpOptions& opts);

// "NAME:/path" -> {NAME, /path}; anything else (no ':' before the first '/')
// is a host path and gives an empty name.
struct CpTarget {
  std::string workspace;  // empty: a host path
  std::string path;
};
CpTarget ParseCpTarget(const std::string& arg);

}  // namespace ws::cli
