// Caller: who asked, as the kernel reported it (SO_PEERCRED) for the
// connection the request came on. Never taken from a request field.
#pragma once

#include <sys/types.h>

namespace ws::controller {

struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  bool is_root() const { return uid == 0; }
  // Root sees and manages every workspace; others only their own.
  bool may_access(uid_t owner) const { return is_root() || owner == uid; }
};

}  // namespace ws::controller
