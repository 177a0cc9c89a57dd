#include "host/shares/share_config.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

#include "host/common/names.h"
#include "host/shares/protected_paths.h"
#include "host/shares/share_spec.h"

namespace ws::shares {
namespace {

template <typename T>
bool ParseId(const std::string& s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string RenderShareConfig(const ShareConfig& c) {
  std::ostringstream o;
  o << "# Written by the workspace daemon for workspace-virtiofsd.\n"
    << "host=" << c.host_path << "\n"
    << "mode=" << (c.read_only ? "ro" : "rw") << "\n"
    << "owner_uid=" << c.owner_uid << "\nowner_gid=" << c.owner_gid << "\n"
    << "root_uid=" << c.root_uid << "\nroot_gid=" << c.root_gid << "\n";
  o << "dev=" << c.dev << "\nino=" << c.ino << "\n"
    << "rights=" << (c.owner_rights ? "owner" : "root") << "\n";
  for (const auto& s : c.shown) o << "show=" << s << "\n";
  for (const auto& p : c.protect) o << "protect=" << p << "\n";
  for (const auto& w : c.writable) o << "writable=" << w << "\n";
  if (!c.workspace.empty()) o << "workspace=" << c.workspace << "\n";
  if (!c.audit_log.empty()) o << "audit=" << c.audit_log << "\n";
  if (!c.guard) o << "guard=off\n";
  return o.str();  // values checked by CheckShareSet: none holds a newline
}

Result<ShareConfig> ParseShareConfig(const std::string& text) {
  ShareConfig c;
  std::istringstream in(text);
  std::string line;
  bool have_host = false, have_mode = false;
  unsigned ou = 0, og = 0, ru = 0, rg = 0;
  bool ids = true;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      return Status(Code::kInvalidArgument, "share.conf: bad line '" + line + "'");
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    // Strict: a key given twice is an error, never "the last one wins".
    const bool repeated = k == "show" || k == "protect" || k == "writable";
    if (!repeated && !seen.insert(k).second) {
      return Status(Code::kInvalidArgument, "share.conf: " + k + " given twice");
    }
    if (k == "host") {
      c.host_path = v;
      have_host = true;
    } else if (k == "mode") {
      if (v != "ro" && v != "rw")
        return Status(Code::kInvalidArgument, "share.conf: bad mode " + v);
      c.read_only = v == "ro";
      have_mode = true;
    } else if (k == "owner_uid") {
      ids &= ParseId(v, &ou);
    } else if (k == "owner_gid") {
      ids &= ParseId(v, &og);
    } else if (k == "root_uid") {
      ids &= ParseId(v, &ru);
    } else if (k == "root_gid") {
      ids &= ParseId(v, &rg);
    } else if (k == "dev") {
      ids &= ParseId(v, &c.dev);
    } else if (k == "ino") {
      ids &= ParseId(v, &c.ino);
    } else if (k == "rights") {
      if (v != "owner" && v != "root")
        return Status(Code::kInvalidArgument, "share.conf: bad rights " + v);
      c.owner_rights = v == "owner";
    } else if (k == "show") {
      if (!ValidateWritablePath(v).ok())
        return Status(Code::kInvalidArgument, "share.conf: bad show path");
      c.shown.push_back(v);
    } else if (k == "protect" || k == "writable") {
      if (!ValidateWritablePath(v).ok())
        return Status(Code::kInvalidArgument, "share.conf: bad " + k + " path");
      (k == "protect" ? c.protect : c.writable).push_back(v);
    } else if (k == "workspace") {
      if (!ValidateName(v).ok())
        return Status(Code::kInvalidArgument, "share.conf: bad workspace name");
      c.workspace = v;
    } else if (k == "guard") {
      if (v != "off") return Status(Code::kInvalidArgument, "share.conf: bad guard value");
      c.guard = false;
    } else if (k == "audit") {
      if (v.empty() || v[0] != '/')
        return Status(Code::kInvalidArgument, "share.conf: bad audit path");
      c.audit_log = v;
    } else {
      return Status(Code::kInvalidArgument, "share.conf: unknown key " + k);
    }
  }
  if (!have_host || !have_mode || !ids || c.host_path.empty() || c.host_path[0] != '/') {
    return Status(Code::kInvalidArgument, "share.conf: incomplete");
  }
  c.owner_uid = ou;
  c.owner_gid = og;
  c.root_uid = ru;
  c.root_gid = rg;
  if (!c.read_only && c.root_uid == 0) {
    return Status(Code::kInvalidArgument, "share.conf: guest root must not map to host root");
  }
  return c;
}

}  // namespace ws::shares
