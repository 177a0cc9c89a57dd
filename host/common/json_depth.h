// How deep a JSON text nests, read before a parser builds anything of it
// (header only: a guard in front of nlohmann-json, whose parser recurses).
#pragma once

#include <cstddef>
#include <string_view>

namespace ws {

// True when arrays and objects nest more than `max` deep (outside strings).
inline bool JsonTooDeep(std::string_view text, int max) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace ws
