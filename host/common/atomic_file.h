// Writes a file whole or not at all: a temporary file beside it (created
// new, never through a symlink), synced, then renamed over it. Readers see
// the old contents or the new, never half.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "host/common/status.h"

namespace ws {

Status WriteFileAtomically(const std::string& path, std::string_view text, mode_t mode);

// A file's whole contents; "" when it is missing or cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace ws
