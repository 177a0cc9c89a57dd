#include "host/common/boot_params.h"

#include <cctype>

#include "host/common/hex.h"

namespace ws::boot {
namespace {

std::string Escape(std::string_view v) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (isalnum(c) || c == '.' || c == '_' || c == '@' || c == '+' || c == '-' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Control characters are dropped: a value reaches files and a terminal.
std::string Unescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '%' && i + 2 < v.size() && HexDigit(v[i + 1]) >= 0 && HexDigit(v[i + 2]) >= 0) {
      c = static_cast<char>(HexDigit(v[i + 1]) << 4 | HexDigit(v[i + 2]));
      i += 2;
    }
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
  }
  return out;
}

}  // namespace

std::string Encode(const BootParams& p) {
  std::string out = "workspace.v=" + std::to_string(kVersion);
  out += " workspace.name=" + Escape(p.name);
  out += std::string(" workspace.net=") + NetModeName(p.net);
  if (!p.root.empty()) out += " workspace.root=" + Escape(p.root);
  if (p.template_boot) out += " workspace.template=1";
  // Bounded: the whole command line must stay under the kernel's 2 KiB.
  if (!p.git_name.empty() && p.git_name.size() <= 128)
    out += " workspace.git_name=" + Escape(p.git_name);
  if (!p.git_email.empty() && p.git_email.size() <= 128) {
    out += " workspace.git_email=" + Escape(p.git_email);
  }
  for (const auto& s : p.shares) {
    out += " workspace.share=" + Escape(s.tag) + ":" + Escape(s.guest_path) + ":" +
           (s.read_only ? "ro" : "rw");
  }
  return out;
}

Result<BootParams> Decode(std::string_view cmdline) {
  BootParams p;
  bool versioned = false;  // for the next version's checks
  size_t at = 0;
  while (at < cmdline.size()) {
    while (at < cmdline.size() && isspace(static_cast<unsigned char>(cmdline[at]))) ++at;
    size_t end = at;
    while (end < cmdline.size() && !isspace(static_cast<unsigned char>(cmdline[end]))) ++end;
    const std::string_view word = cmdline.substr(at, end - at);
    at = end;
    if (word.rfind("workspace.", 0) != 0) continue;
    const size_t eq = word.find('=');
    if (eq == std::string_view::npos)
      return Status(Code::kInvalidArgument, "boot parameter without a value");
    const std::string_view key = word.substr(10, eq - 10), value = word.substr(eq + 1);
    if (key == "v") {
      if (value != std::to_string(kVersion)) {
        return Status(Code::kFailedPrecondition, "boot parameters of version " + Unescape(value) +
                                                     ", this agent reads " +
                                                     std::to_string(kVersion));
      }
      versioned = true;
    } else if (key == "name") {
      p.name = Unescape(value);
    } else if (key == "net") {
      auto mode = ParseNetMode(value);
      if (!mode) return Status(Code::kInvalidArgument, "unknown workspace.net " + Unescape(value));
      p.net = *mode;
    } else if (key == "root") {
      p.root = Unescape(value);
    } else if (key == "git_name") {
      p.git_name = Unescape(value);
    } else if (key == "git_email") {
      p.git_email = Unescape(value);
    } else if (key == "template") {
      p.template_boot = value == "1";
    } else if (key == "share") {
      const size_t a = value.find(':'), b = value.rfind(':');
      const std::string_view mode = b == std::string_view::npos ? "" : value.substr(b + 1);
      if (a == std::string_view::npos || a == b || (mode != "ro" && mode != "rw")) {
        return Status(Code::kInvalidArgument, "malformed workspace.share " + Unescape(value));
      }
      p.shares.push_back(
          {Unescape(value.substr(0, a)), Unescape(value.substr(a + 1, b - a - 1)), mode == "ro"});
    }
    // Other keys: a newer host's additions within this version, ignored.
  }
  // No workspace.v: a workspace defined before the words were versioned,
  // whose words are version 1's (its values needed no escaping).
  (void)versioned;
  return p;
}

}  // namespace ws::boot
