// ParseToml: cpptoml's parser behind a Result, for every TOML file we read
// (project files, image recipes, the daemon's config). Errors are
// "WHAT: cpptoml's message".
#pragma once

#include <cpptoml.h>

#include <memory>
#include <sstream>
#include <string>

#include "host/common/status.h"

namespace ws {

inline Result<std::shared_ptr<cpptoml::table>> ParseToml(const std::string& text,
                                                         const std::string& what) {
  try {
    std::istringstream in(text);
    cpptoml::parser p(in);
    return p.parse();
  } catch (const cpptoml::parse_exception& e) {
    return Status(Code::kInvalidArgument, what + ": " + e.what());
  }
}

}  // namespace ws
