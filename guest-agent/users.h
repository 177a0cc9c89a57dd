// Users of the guest, read from /etc/passwd and /etc/group directly (a
// static binary has no NSS modules to load).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "host/common/status.h"

namespace ws::agent {

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary, from /etc/group
  std::string home = "/";
  std::string shell = "/bin/sh";
};

// By name or numeric uid. Empty `who` means the default user: `user` when
// the image has one, else root. kNotFound when there is no such user.
Result<User> LookupUser(const std::string& who, const std::string& etc = "/etc");

}  // namespace ws::agent
