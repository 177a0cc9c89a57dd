// The environment an exec or shell is given, docker's way: `-e KEY=VALUE`,
// `-e KEY` (the caller's value; left out when the caller has none) and
// `--env-file FILE` (KEY=VALUE per line, `#` comments, blank lines; a bare
// KEY is refused there: the file may be the guest's, and would pick which
// of the caller's variables enter the VM). Values go into the VM as they are; nothing here is
// hidden from the guest.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "host/common/status.h"

namespace ws::cli {

// Largest --env-file read.
inline constexpr size_t kMaxEnvFile = 1 << 20;

// The caller's value of KEY, or nullopt-like: `found` false.
using EnvLookup = std::function<const char*(const std::string& key)>;

struct EnvResult {
  std::vector<std::string> env;    // "KEY=VALUE", in order; later ones win in the guest
  std::vector<std::string> unset;  // bare KEYs the caller does not have (left out)
};

// Resolves --env-file FILEs (first) and -e entries (after, so they win).
// kInvalidArgument for a name that is empty, holds '=' or a control
// character, or a file that cannot be read, is not a regular file or is
// larger than kMaxEnvFile (the message names the file and line).
Result<EnvResult> ResolveEnv(const std::vector<std::string>& env_files,
                             const std::vector<std::string>& env_flags, const EnvLookup& lookup);

// One --env-file's text: `where` names it in messages.
Status ParseEnvFile(const std::string& text, const std::string& where, const EnvLookup& lookup,
                    EnvResult* out);

}  // namespace ws::cli
