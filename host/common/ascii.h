// ASCII case, as protocols compare names (header only).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace ws {

// `s` with A-Z as a-z (other bytes unchanged).
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace ws
