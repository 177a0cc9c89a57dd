#include "host/tripwire/change_flags.h"

#include <algorithm>
#include <string_view>

namespace ws::tripwire {
namespace {

bool Under(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// "/home/USER/REST" or "/root/REST" -> "REST"; "" when not in a home.
std::string_view InHome(std::string_view path) {
  if (path.rfind("/root/", 0) == 0) return path.substr(6);
  if (path.rfind("/home/", 0) == 0) {
    const size_t slash = path.find('/', 6);
    if (slash != std::string_view::npos) return path.substr(slash + 1);
  }
  return {};
}

constexpr const char* kOrder[] = {"setuid",       "setgid",    "runs-at-login",
                                  "runs-at-boot", "scheduled", "on-path",
                                  "git-hook",     "account",   "executable"};

}  // namespace

std::vector<std::string> ChangeFlags(const std::string& p, uint32_t mode) {
  std::vector<std::string> flags;
  const bool regular = (mode & 0170000) == 0100000;
  if (regular && (mode & 04000)) flags.push_back("setuid");
  if (regular && (mode & 02000)) flags.push_back("setgid");
  const std::string_view path(p);
  const std::string_view home = InHome(path);
  for (std::string_view f : {".bashrc", ".profile", ".bash_profile", ".bash_login", ".bash_logout",
                             ".zshrc", ".zprofile", ".zshenv", ".inputrc", ".config/fish"}) {
    if (home == f || Under(home, f)) flags.push_back("runs-at-login");
  }
  for (std::string_view f : {"/etc/profile", "/etc/bash.bashrc", "/etc/environment",
                             "/etc/zsh/zshrc", "/etc/ld.so.preload"}) {
    if (path == f) flags.push_back("runs-at-login");
  }
  for (std::string_view d : {"/etc/profile.d", "/etc/ld.so.conf.d", "/etc/update-motd.d"}) {
    if (Under(path, d)) flags.push_back("runs-at-login");
  }
  for (std::string_view d : {"/etc/systemd", "/lib/systemd/system", "/usr/lib/systemd/system",
                             "/etc/init.d", "/etc/rc.local", "/etc/udev/rules.d",
                             "/etc/modules-load.d", "/etc/xdg/autostart", "/etc/apt/apt.conf.d"}) {
    if (path == d || Under(path, d)) flags.push_back("runs-at-boot");
  }
  if (Under(home, ".config/systemd") || Under(home, ".config/autostart")) {
    flags.push_back("runs-at-boot");
  }
  for (std::string_view d :
       {"/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly",
        "/etc/cron.monthly", "/var/spool/cron", "/etc/anacrontab"}) {
    if (path == d || Under(path, d)) flags.push_back("scheduled");
  }
  for (std::string_view d :
       {"/usr/local/bin", "/usr/local/sbin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"}) {
    if (Under(path, d) && path.find('/', d.size() + 1) == std::string_view::npos) {
      flags.push_back("on-path");
    }
  }
  if (Under(home, ".local/bin") || Under(home, ".npm-global/bin")) flags.push_back("on-path");
  if (path.find("/.git/hooks/") != std::string_view::npos || Under(home, ".config/git/hooks") ||
      home == ".gitconfig" || home == ".config/git/config" || path == "/etc/gitconfig") {
    flags.push_back("git-hook");
  }
  for (std::string_view f :
       {"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers"}) {
    if (path == f) flags.push_back("account");
  }
  if (Under(path, "/etc/sudoers.d") || Under(path, "/etc/pam.d") ||
      home == ".ssh/authorized_keys" || home == ".ssh/config" || home == ".ssh/rc") {
    flags.push_back("account");
  }
  if (regular && (mode & 0111)) flags.push_back("executable");
  std::sort(flags.begin(), flags.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& f) {
      return std::find(std::begin(kOrder), std::end(kOrder), f) - std::begin(kOrder);
    };
    return rank(a) < rank(b);
  });
  flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
  return flags;
}

int FlagRank(const std::vector<std::string>& flags) {
  if (flags.empty()) return 9;
  return static_cast<int>(std::find(std::begin(kOrder), std::end(kOrder), flags.front()) -
                          std::begin(kOrder));
}

}  // namespace ws::tripwire
