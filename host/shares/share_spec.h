// Share specs: what `--share HOST_PATH[:GUEST_PATH][:ro]` means, checked
// without touching the filesystem.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"

namespace ws::shares {

struct ShareSpec {
  std::string host_path;   // absolute
  std::string guest_path;  // absolute, normalized
  bool read_only = false;
  std::vector<std::string> shown;  // secret files the user chose to show (--show)
  // Read-write shares: protected paths opened to the guest (--writable), and
  // folders protected beyond the fixed list (git's hooks folder), relative.
  std::vector<std::string> writable;
  std::vector<std::string> protect;
};

// At most this many --writable or protect paths per share.
inline constexpr size_t kMaxSharePaths = 64;

// Where a share goes when no GUEST_PATH is given for the current directory.
inline constexpr char kDefaultGuestPath[] = "/workspace";

// Parses "HOST[:GUEST][:ro|:rw]". HOST must be absolute here (the CLI makes
// it so); GUEST defaults to HOST. kInvalidArgument says what is wrong.
Result<ShareSpec> ParseShareSpec(std::string_view spec);

// Guest paths: absolute, normalized, not "/" nor under /proc, /sys or /dev.
Status CheckGuestPath(const std::string& guest_path);

// The whole set: no guest path twice, none inside another.
Status CheckShareSet(const std::vector<ShareSpec>& shares);

// Lexically normalized absolute path ("/a/./b/../c/" -> "/a/c").
std::string NormalizeAbsolute(const std::string& path);

// True when `inner` is `outer` or lies below it (both normalized).
bool PathWithin(const std::string& inner, const std::string& outer);

}  // namespace ws::shares
