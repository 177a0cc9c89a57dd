// Hexadecimal digits, read (header only: the agent and the daemon both use it).
#pragma once

namespace ws {

// The value of a hexadecimal digit (either case); -1 for any other character.
inline int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace ws
