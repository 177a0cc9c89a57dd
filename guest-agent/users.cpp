#include "guest-agent/users.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace ws::agent {
namespace {

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

bool ParseId(const std::string& s, unsigned* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

Result<User> LookupUser(const std::string& who, const std::string& etc) {
  if (who.empty()) {
    auto user = LookupUser("user", etc);
    return user.ok() ? user : LookupUser("root", etc);
  }
  unsigned want_uid = 0;
  const bool numeric = ParseId(who, &want_uid);
  std::ifstream passwd(etc + "/passwd");
  std::string line;
  while (std::getline(passwd, line)) {
    auto f = Split(line, ':');
    if (f.size() < 7) continue;
    unsigned uid = 0, gid = 0;
    if (!ParseId(f[2], &uid) || !ParseId(f[3], &gid)) continue;
    if (numeric ? uid != want_uid : f[0] != who) continue;
    User u{f[0], uid, gid, {}, f[5].empty() ? "/" : f[5], f[6].empty() ? "/bin/sh" : f[6]};
    std::ifstream group(etc + "/group");
    while (std::getline(group, line)) {
      auto g = Split(line, ':');
      unsigned g_id = 0;
      if (g.size() < 4 || !ParseId(g[2], &g_id)) continue;
      for (const auto& member : Split(g[3], ',')) {
        if (member == u.name) u.groups.push_back(g_id);
      }
    }
    return u;
  }
  if (numeric) return User{who, want_uid, want_uid, {}, "/", "/bin/sh"};  // like docker -u 1234
  return Status(Code::kNotFound, "no user '" + who + "' in the guest");
}

}  // namespace ws::agent
