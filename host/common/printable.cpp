#include "host/common/printable.h"

#include <cstdio>

namespace ws {
namespace {

// The length of the valid UTF-8 sequence at text[i] (2..4), or 0.
size_t Utf8Length(std::string_view text, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = at(i);
  size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xc0) != 0x80) return 0;
  }
  // No overlong forms, no surrogates, nothing past U+10FFFF.
  if (n == 3 && ((c == 0xe0 && at(i + 1) < 0xa0) || (c == 0xed && at(i + 1) >= 0xa0))) return 0;
  if (n == 4 && ((c == 0xf0 && at(i + 1) < 0x90) || (c == 0xf4 && at(i + 1) >= 0x90))) return 0;
  return n;
}

}  // namespace

std::string Printable(std::string_view text, bool lines) {
  std::string out;
  out.reserve(text.size());
  auto hex = [&](unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      const bool kept = lines && (c == '\n' || c == '\t');
      if ((c < 0x20 && !kept) || c == 0x7f) {
        hex(c);
      } else {
        out += static_cast<char>(c);
      }
      continue;
    }
    const size_t n = Utf8Length(text, i);
    if (n == 0) {
      hex(c);
    } else if (c == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f) {  // C1 controls (CSI...)
      hex(c);
      hex(static_cast<unsigned char>(text[++i]));
    } else {
      out.append(text.substr(i, n));
      i += n - 1;
    }
  }
  return out;
}

}  // namespace ws
