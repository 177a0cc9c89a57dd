// Workspace names: what is accepted, and how a folder name becomes one.
#pragma once

#include <string>
#include <string_view>

#include "host/common/status.h"

namespace ws {

inline constexpr size_t kMaxNameLength = 63;

// Ok when name matches [a-z0-9][a-z0-9_.-]{0,62}; otherwise an
// kInvalidArgument status that says what is wrong and what is allowed.
Status ValidateName(std::string_view name);

// A valid name made from a folder name ("My Project!" -> "my-project");
// "workspace" when nothing usable is left.
std::string NameFromFolder(std::string_view folder);

// A checkpoint's label: 1 to 64 of letters, digits, '-', '_', '.'
// (kInvalidArgument, saying so, otherwise).
Status CheckCheckpointLabel(std::string_view label);

}  // namespace ws
