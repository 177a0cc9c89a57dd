#include "host/common/printable.h"

#include <cctype>
#include <cstdio>
#include <string>

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

// U+200B-U+200F, U+202A-U+202E, U+2066-U+2069 in UTF-8 at text[i].
bool InvisibleFormat(std::string_view text, size_t i) {
  if (i + 2 >= text.size() || static_cast<unsigned char>(text[i]) != 0xe2) return false;
  const unsigned char b = static_cast<unsigned char>(text[i + 1]),
                      c = static_cast<unsigned char>(text[i + 2]);
  return (b == 0x80 && ((c >= 0x8b && c <= 0x8f) || (c >= 0xaa && c <= 0xae))) ||
         (b == 0x81 && c >= 0xa6 && c <= 0xa9);
}

std::string Shown(std::string_view text, bool lines, bool exact) {
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
      if ((c < 0x20 && !kept) || c == 0x7f || (exact && c == '\\')) {
        hex(c);
      } else {
        out += static_cast<char>(c);
      }
      continue;
    }
    const size_t n = Utf8Length(text, i);
    if (n == 0) {
      hex(c);
    } else if ((c == 0xc2 &&
                static_cast<unsigned char>(text[i + 1]) <= 0x9f) ||  // C1 controls (CSI...)
               InvisibleFormat(text, i)) {
      for (size_t k = 0; k < n; ++k) hex(static_cast<unsigned char>(text[i + k]));
      i += n - 1;
    } else {
      out.append(text.substr(i, n));
      i += n - 1;
    }
  }
  return out;
}

}  // namespace

std::string Printable(std::string_view text, bool lines) { return Shown(text, lines, false); }
std::string PrintableExact(std::string_view text) { return Shown(text, false, true); }

std::string FromPrintableExact(std::string_view shown) {
  std::string out;
  for (size_t i = 0; i < shown.size(); ++i) {
    if (shown[i] == '\\' && i + 3 < shown.size() && shown[i + 1] == 'x' &&
        std::isxdigit(static_cast<unsigned char>(shown[i + 2])) &&
        std::isxdigit(static_cast<unsigned char>(shown[i + 3]))) {
      out += static_cast<char>(std::stoi(std::string(shown.substr(i + 2, 2)), nullptr, 16));
      i += 3;
    } else {
      out += shown[i];
    }
  }
  return out;
}

std::string GuestText(std::string_view text, size_t max) {
  std::string shown = Printable(text.substr(0, max));
  if (shown.size() <= max) return shown;
  // Escapes made it longer: cut to `max`, never inside a \xNN escape or a
  // UTF-8 sequence.
  size_t cut = max;
  const size_t slash = shown.rfind('\\', cut);
  if (slash != std::string::npos && cut - slash < 4) cut = slash;
  while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80) --cut;
  shown.resize(cut);
  return shown;
}

}  // namespace ws
