// Times as the project writes them: RFC 3339, UTC, whole seconds.
#pragma once

#include <string>

namespace ws {

// "2026-12-02T21:04:08Z"
std::string NowRfc3339();

}  // namespace ws
