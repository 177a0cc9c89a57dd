#include "host/github/push_commands.h"

#include <algorithm>

#include "host/common/hex.h"

namespace ws::github {
namespace {

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsOid(std::string_view s) { return (s.size() == 40 || s.size() == 64) && IsHex(s); }

bool AllZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

// A ref name git itself would take for an update (git check-ref-format,
// the parts a server relies on): under refs/, no "..", no control
// characters, space, ~ ^ : ? * [ \, no "//", no part starting with '.',
// no ".lock" part end, not ending in '/' or '.', no "@{".
bool IsRefName(std::string_view r) {
  if (r.size() < 6 || r.substr(0, 5) != "refs/" || r.size() > 1024) return false;
  if (r.back() == '/' || r.back() == '.') return false;
  if (r.find("..") != std::string_view::npos || r.find("//") != std::string_view::npos ||
      r.find("@{") != std::string_view::npos || r.find("/.") != std::string_view::npos) {
    return false;
  }
  for (unsigned char c : r) {
    if (c < 0x21 || c == 0x7f || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' ||
        c == '[' || c == '\\') {
      return false;
    }
  }
  for (size_t at = r.find(".lock"); at != std::string_view::npos; at = r.find(".lock", at + 1)) {
    if (at + 5 == r.size() || r[at + 5] == '/') return false;
  }
  return true;
}

}  // namespace

bool RefUpdate::creates() const { return AllZero(old_oid); }
bool RefUpdate::deletes() const { return AllZero(new_oid); }

std::string PktLine(std::string_view text) {
  static const char digits[] = "0123456789abcdef";
  const size_t n = text.size() + 4;
  std::string out = {digits[(n >> 12) & 15], digits[(n >> 8) & 15], digits[(n >> 4) & 15],
                     digits[n & 15]};
  out.append(text);
  return out;
}

ParseState ParsePushCommands(std::string_view body, PushCommands* out) {
  *out = PushCommands();
  auto bad = [&](std::string why) {
    out->error = std::move(why);
    return ParseState::kMalformed;
  };
  size_t at = 0;
  bool first = true;
  while (true) {
    if (at > kMaxCommandBytes) return bad("a command list over 256 KiB");
    if (body.size() - at < 4) return ParseState::kNeedMore;
    size_t len = 0;
    for (size_t i = 0; i < 4; ++i) {
      const int d = HexDigit(body[at + i]);
      if (d < 0) return bad("not a pkt-line length");
      len = len * 16 + static_cast<size_t>(d);
    }
    if (len == 0) {  // flush-pkt: the list ends
      if (out->updates.empty()) return bad("a push with no ref update");
      out->length = at + 4;
      return ParseState::kComplete;
    }
    if (len < 4 || len > 65520) return bad("a pkt-line length out of range");
    if (at + len > kMaxCommandBytes) return bad("a command list over 256 KiB");
    if (body.size() - at < len) return ParseState::kNeedMore;
    std::string_view line = body.substr(at + 4, len - 4);
    at += len;
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (first && line.rfind("push-cert", 0) == 0) return bad("a signed push (push certificate)");
    if (line.rfind("shallow ", 0) == 0 && out->updates.empty()) {
      if (!IsOid(line.substr(8))) return bad("a malformed shallow line");
      continue;
    }
    std::string_view caps;
    if (const size_t nul = line.find('\0'); nul != std::string_view::npos) {
      if (!first) return bad("capabilities after the first command");
      caps = line.substr(nul + 1);
      line = line.substr(0, nul);
    }
    first = false;
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return bad("a command that is not OLD NEW REF");
    RefUpdate u{std::string(line.substr(0, sp1)), std::string(line.substr(sp1 + 1, sp2 - sp1 - 1)),
                std::string(line.substr(sp2 + 1))};
    if (!IsOid(u.old_oid) || !IsOid(u.new_oid) || u.old_oid.size() != u.new_oid.size()) {
      return bad("a command whose object ids are not hex ids of one kind");
    }
    if (!IsRefName(u.ref)) return bad("a ref name git would not take");
    if (u.creates() && u.deletes()) return bad("a command from nothing to nothing");
    if (out->updates.size() == kMaxRefUpdates) return bad("more than 256 ref updates in one push");
    for (size_t s = 0; s < caps.size();) {
      const size_t e = std::min(caps.find(' ', s), caps.size());
      if (e > s) out->capabilities.emplace_back(caps.substr(s, e - s));
      s = e + 1;
    }
    out->updates.push_back(std::move(u));
  }
}

}  // namespace ws::github
