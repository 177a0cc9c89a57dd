#include "host/shares/secrets.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "host/common/ascii.h"
#include "host/common/open_beneath.h"
#include "host/common/unique_fd.h"
#include "host/shares/protected_paths.h"

namespace ws::shares {
namespace {

constexpr size_t kMaxConfigBytes = 256 * 1024;  // a config this large is hidden, not stripped
constexpr size_t kKeyHeadBytes = 64 * 1024;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return std::string(s.substr(a, b - a + 1));
}

enum class Read { kOk, kNotRegular, kFailed };

// Up to `max` bytes of a regular file; kFailed when it is one that cannot
// be read (the caller covers it: closed, not open).
Read ReadHead(int dir, const std::string& name, size_t max, std::string* out, bool* whole) {
  unique_fd fd(openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd) {
    if (errno == ENOENT) return Read::kNotRegular;  // nothing there
    return fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)
               ? Read::kNotRegular
               : Read::kFailed;
  }
  if (fstat(fd.get(), &st) != 0) return Read::kFailed;
  if (!S_ISREG(st.st_mode)) return Read::kNotRegular;
  out->clear();
  char buf[8192];
  while (out->size() < max) {
    ssize_t n = read(fd.get(), buf, std::min(sizeof buf, max - out->size()));
    if (n < 0) return Read::kFailed;
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  *whole = static_cast<size_t>(st.st_size) <= out->size();
  return Read::kOk;
}

// URL userinfo removed: every one of http(s) URLs (a token as the user
// name is common), the ones holding a password elsewhere.
std::string StripUrlCredentials(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t scheme_end = text.find("://", i);
    if (scheme_end == std::string_view::npos) break;
    size_t start = scheme_end;
    while (start > i &&
           (std::isalnum(static_cast<unsigned char>(text[start - 1])) || text[start - 1] == '+' ||
            text[start - 1] == '.' || text[start - 1] == '-')) {
      --start;
    }
    const std::string scheme = AsciiLower(text.substr(start, scheme_end - start));
    const size_t auth = scheme_end + 3;
    size_t end = auth;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
           text[end] != '/' && text[end] != '"' && text[end] != '\'') {
      ++end;
    }
    const size_t at = text.substr(auth, end - auth).rfind('@');
    out.append(text.substr(i, auth - i));
    if (at != std::string_view::npos) {
      const std::string_view userinfo = text.substr(auth, at);
      const bool http = scheme == "http" || scheme == "https";
      if (http || userinfo.find(':') != std::string_view::npos) {
        i = auth + at + 1;  // drop "userinfo@"
        continue;
      }
    }
    i = auth;
  }
  out.append(text.substr(i));
  return out;
}

// Lines of `text` less those `drop` says, URLs' credentials removed.
template <typename F>
std::string DropLines(std::string_view text, F drop) {
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    const size_t next = end == std::string_view::npos ? text.size() : end + 1;
    const std::string_view line = text.substr(at, next - at);
    if (!drop(Trim(line.substr(0, line.find('\n'))))) out += StripUrlCredentials(line);
    at = next;
  }
  return out;
}

// The key of a "key = value" or "key: value" line, lower-case, quotes off.
std::string KeyOf(const std::string& line, const char* seps) {
  std::string key = AsciiLower(Trim(std::string_view(line).substr(0, line.find_first_of(seps))));
  if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') && key.back() == key.front()) {
    key = key.substr(1, key.size() - 2);
  }
  return key;
}

bool NpmAuthLine(const std::string& line) {
  // //registry.example/:_authToken=..., and yarn 1's "//registry.example/:_authToken" TOKEN
  if (line.rfind("//", 0) == 0 || line.rfind("\"//", 0) == 0 || line.rfind("'//", 0) == 0)
    return true;
  const std::string key = KeyOf(line, "= \t");
  for (const char* k : {"_authtoken", "_auth", "_password", "password", "npmauthtoken",
                        "npmauthident", "npmpassword"}) {
    if (key == k || EndsWith(key, std::string(":") + k)) return true;
  }
  return false;
}

bool YarnAuthLine(const std::string& line) {
  const std::string key = KeyOf(line, ":");
  return key == "npmauthtoken" || key == "npmauthident" || key == "npmpassword" ||
         NpmAuthLine(line);
}

std::string StripNetrc(std::string_view text) {
  // Tokens, with "password X" (and "account X") pairs left out; one
  // machine a line.
  std::istringstream in{std::string(text)};
  std::string out, token;
  bool skip_next = false;
  while (in >> token) {
    if (skip_next) {
      skip_next = false;
      continue;
    }
    if (token == "password" || token == "account") {
      skip_next = true;
      continue;
    }
    if ((token == "machine" || token == "default") && !out.empty()) out += "\n";
    out += (out.empty() || out.back() == '\n' ? "" : " ") + token;
  }
  return out.empty() ? out : out + "\n";
}

}  // namespace

bool IsSecretName(std::string_view n) {
  for (std::string_view s :
       {".npmrc", ".pypirc", ".git-credentials", ".netrc", ".env", ".envrc", ".dev.vars", ".yarnrc",
        ".yarnrc.yml", "pip.conf", "terraform.tfvars", "terraform.tfvars.json"}) {
    if (n == s) return true;
  }
  if (EndsWith(n, ".auto.tfvars")) return true;
  if (n.rfind(".env.", 0) == 0) {
    return n != ".env.example" && n != ".env.sample" && n != ".env.template" && n != ".env.dist";
  }
  return false;
}

bool IsSecretFolderName(std::string_view n) { return n == ".ssh" || n == ".aws" || n == ".gnupg"; }

bool MayBePrivateKey(std::string_view n) {
  if (EndsWith(n, ".pub")) return false;
  return EndsWith(n, ".pem") || EndsWith(n, ".key") || n.rfind("id_", 0) == 0;
}

bool LooksLikePrivateKey(std::string_view head) {
  return head.find("PRIVATE KEY-----") != std::string_view::npos;
}

bool StripsCredentials(std::string_view n) {
  // Not .netrc: hidden whole (GitHub's tokens go in as a `login`).
  return n == ".npmrc" || n == ".yarnrc" || n == ".yarnrc.yml" || n == ".pypirc" ||
         n == "pip.conf" || n == "gitconfig";
}

std::string StripCredentials(std::string_view n, std::string_view text) {
  if (n == ".npmrc" || n == ".yarnrc") return DropLines(text, NpmAuthLine);
  if (n == ".yarnrc.yml") return DropLines(text, YarnAuthLine);
  if (n == ".pypirc")
    return DropLines(text, [](const std::string& l) { return KeyOf(l, "=:") == "password"; });
  if (n == "gitconfig") return StripGitConfig(text);
  if (n == ".netrc") return StripNetrc(text);  // (unused: a .netrc is hidden whole)
  return DropLines(text, [](const std::string&) { return false; });  // pip.conf: URLs only
}

std::string StripGitConfig(std::string_view text) {
  return DropLines(text, [](const std::string& l) {
    const std::string key = KeyOf(l, "=");
    if (key == "extraheader" || EndsWith(key, ".extraheader") || key == "smtppass") return true;
    // An inline helper is a script that may hold the password itself.
    const size_t eq = l.find('=');
    return key == "helper" && eq != std::string::npos && Trim(l.substr(eq + 1)).rfind("!", 0) == 0;
  });
}

SecretScan ScanSecrets(int root, const std::string& host_path,
                       const std::vector<std::string>& shown) {
  SecretScan scan;
  auto is_shown = [&](const std::string& rel) {
    return std::find(shown.begin(), shown.end(), rel) != shown.end();
  };
  auto join = [](const std::string& dir, const std::string& name) {
    return dir.empty() ? name : dir + "/" + name;
  };
  // Each path once (symlinks may lead many names to one file): what counts
  // against kMaxSecretMasks is what would be covered.
  std::map<std::string, size_t> paths;  // path -> its index in scan.found
  size_t strip_bytes = 0;
  auto record = [&](SecretFile f) {
    auto [at, fresh] = paths.emplace(f.path, scan.found.size());
    if (!fresh) {
      SecretFile& e = scan.found[at->second];
      if (f.directory || f.action == SecretAction::kHide) {  // hiding wins over stripping
        e.action = SecretAction::kHide;
        e.stripped.clear();
        e.directory |= f.directory;
      }
      return;
    }
    scan.found.push_back(std::move(f));
  };
  auto cover_dir = [&](const std::string& rel, const std::string& via = "") {
    if (!is_shown(rel) && !(!via.empty() && is_shown(via)))
      record({rel, SecretAction::kHide, true, "", via});
  };
  // A file found by its name `kind` (or a symlink's): hidden or stripped.
  // `dir` and `file` reach it; `rel` is its path.
  auto add_file = [&](int dir, const std::string& file, const std::string& rel,
                      const std::string& kind, const std::string& via) {
    if (is_shown(rel) || (!via.empty() && is_shown(via))) return;
    SecretFile f{rel, SecretAction::kHide, false, "", via};
    if (StripsCredentials(kind) && !paths.count(rel)) {
      std::string text;
      bool whole = false;
      const size_t room = strip_bytes < kMaxStripBytes
                              ? std::min(kMaxConfigBytes, kMaxStripBytes - strip_bytes)
                              : 0;
      const Read r = room ? ReadHead(dir, file, room, &text, &whole)
                          : Read::kFailed;  // past the budget: hidden
      if (r == Read::kNotRegular) return;
      strip_bytes += text.size();
      if (r == Read::kOk && whole) {
        std::string stripped = StripCredentials(kind, text);
        if (stripped == text) return;  // no credential in it: the guest reads it as it is
        f.action = SecretAction::kStrip;
        strip_bytes += stripped.size();
        f.stripped = std::move(stripped);
      }
    }
    record(std::move(f));
  };
  // A symlink named like a secret: what it leads to inside the share.
  auto follow = [&](int dir, const std::string& dir_rel, const std::string& name,
                    const std::string& rel) {
    char buf[4096];
    ssize_t n = readlinkat(dir, name.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return;
    std::string target(buf, static_cast<size_t>(n));
    if (target[0] == '/') {
      // The host's absolute path of a file in this share: the guest sees it
      // too, by the share-relative path.
      if (target.compare(0, host_path.size() + 1, host_path + "/") != 0) return;
      target = target.substr(host_path.size() + 1);
    } else {
      target = join(dir_rel, target);
    }
    unique_fd t = OpenBeneath(root, target, O_PATH,
                              /*follow_inside=*/true);  // symlinks inside the share may be followed
    struct stat st;
    if (!t || fstat(t.get(), &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return;
    // Where it really is: its path beneath the share's top.
    char real[4096], top[4096];
    ssize_t rn =
        readlink(("/proc/self/fd/" + std::to_string(t.get())).c_str(), real, sizeof real - 1);
    ssize_t tn = readlink(("/proc/self/fd/" + std::to_string(root)).c_str(), top, sizeof top - 1);
    if (rn <= 0 || tn <= 0) return;
    const std::string real_s(real, static_cast<size_t>(rn)), top_s(top, static_cast<size_t>(tn));
    if (real_s.size() <= top_s.size() + 1 || real_s.compare(0, top_s.size() + 1, top_s + "/") != 0)
      return;
    const std::string real_rel = real_s.substr(top_s.size() + 1);
    if (S_ISDIR(st.st_mode)) {
      if (IsSecretFolderName(name)) cover_dir(real_rel, rel);
      return;
    }
    if (!IsSecretName(name)) return;
    const std::string parent =
        real_rel.find('/') == std::string::npos ? "" : real_rel.substr(0, real_rel.rfind('/'));
    unique_fd pfd = OpenBeneath(root, parent, O_PATH | O_DIRECTORY);
    if (pfd)
      add_file(pfd.get(), real_rel.substr(real_rel.find_last_of('/') + 1), real_rel, name, rel);
  };
  struct Dir {
    std::string rel;
    int depth;
    bool in_node_modules;
    bool git_modules;  // under a .git folder's modules/: only git configs
  };
  std::vector<Dir> stack = {{"", 0, false, false}};
  while (!stack.empty()) {
    const Dir d = stack.back();
    stack.pop_back();
    // Opened when its turn comes (no fd held per waiting folder), beneath
    // the top without a symlink; one that cannot be read is covered.
    unique_fd fd = OpenBeneath(root, d.rel, O_RDONLY | O_DIRECTORY);
    DIR* dp = fd ? fdopendir(dup(fd.get())) : nullptr;
    if (!dp) {
      cover_dir(d.rel);
      continue;
    }
    const std::string dir_name = d.rel.substr(d.rel.find_last_of('/') + 1);
    bool failed = false;
    for (;;) {
      errno = 0;
      dirent* e = readdir(dp);
      if (!e) {
        failed = errno != 0;  // a read that failed part way
        break;
      }
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (scan.found.size() >
          kMaxSecretMasks) {  // the share will not start: no need to look further
        scan.refusal =
            "more than " + std::to_string(kMaxSecretMasks) +
            " secrets to cover (.env files, keys, ...); remove some, or share a smaller folder";
        stack.clear();
        break;
      }
      if (++scan.entries > kMaxScanEntries) {
        // The rest is not looked at: covered whole.
        scan.cut = true;
        cover_dir(d.rel);
        for (const auto& left : stack) cover_dir(left.rel);
        stack.clear();
        break;
      }
      const std::string rel = join(d.rel, name);
      unsigned type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode)   ? DT_DIR
               : S_ISLNK(st.st_mode) ? DT_LNK
               : S_ISREG(st.st_mode) ? DT_REG
                                     : DT_UNKNOWN;
      }
      if (d.git_modules) {
        if (type == DT_DIR && d.depth + 1 < kMaxScanDepth)
          stack.push_back({rel, d.depth + 1, false, true});
        if (type == DT_DIR && d.depth + 1 >= kMaxScanDepth) cover_dir(rel);
        if (type == DT_REG && name == "config") add_file(fd.get(), name, rel, "gitconfig", "");
        continue;
      }
      if (type == DT_DIR) {
        if (name == ".git") {
          // Not walked (objects are no secret files), but its configs are
          // stripped of their credentials: its own and its submodules'.
          unique_fd git = OpenBeneath(root, rel, O_PATH | O_DIRECTORY);
          if (git) add_file(git.get(), "config", rel + "/config", "gitconfig", "");
          struct stat st;
          if (git && fstatat(git.get(), "modules", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
              S_ISDIR(st.st_mode)) {
            stack.push_back({rel + "/modules", d.depth + 1, false, true});
          }
          continue;
        }
        if (IsSecretFolderName(name)) {
          cover_dir(rel);
          continue;
        }
        if (d.depth + 1 >= kMaxScanDepth || rel.size() > kMaxSharePath) {
          scan.cut = true;
          cover_dir(rel);
          continue;
        }
        stack.push_back({rel, d.depth + 1, d.in_node_modules || name == "node_modules", false});
      } else if (type == DT_REG) {
        const bool by_folder = (dir_name == ".docker" && name == "config.json") ||
                               (dir_name == ".kube" && name == "config");
        if (IsSecretName(name) || by_folder) {
          add_file(fd.get(), name, rel, name, "");
        } else if (MayBePrivateKey(name) && !d.in_node_modules) {
          std::string head;
          bool whole = false;
          const Read r = ReadHead(fd.get(), name, kKeyHeadBytes, &head, &whole);
          if ((r == Read::kFailed || (r == Read::kOk && LooksLikePrivateKey(head))) &&
              !is_shown(rel)) {
            record({rel, SecretAction::kHide, false, "", ""});
          }
        }
      } else if (type == DT_LNK && (IsSecretName(name) || IsSecretFolderName(name))) {
        follow(fd.get(), d.rel, name, rel);
      }
    }
    if (failed) cover_dir(d.rel);
    closedir(dp);
  }
  std::sort(scan.found.begin(), scan.found.end(),
            [](const SecretFile& a, const SecretFile& b) { return a.path < b.path; });
  // One entry a path, and nothing below a covered folder (its cover hides it).
  if (scan.found.size() > kMaxSecretMasks && scan.refusal.empty()) {
    scan.refusal =
        "more than " + std::to_string(kMaxSecretMasks) +
        " secrets to cover (.env files, keys, ...); remove some, or share a smaller folder";
  }
  if (!scan.found.empty() && scan.found.front().path.empty() && scan.refusal.empty()) {
    scan.refusal = scan.cut ? "its top folder holds more than " + std::to_string(kMaxScanEntries) +
                                  " entries to look through for secrets; share a smaller folder"
                            : "its top folder cannot be read to look for secrets";
  }
  std::vector<SecretFile> kept;
  std::set<std::string> covers;
  auto under_cover = [&](const std::string& path) {
    if (covers.count("")) return true;
    for (size_t at = path.find('/'); at != std::string::npos; at = path.find('/', at + 1)) {
      if (covers.count(path.substr(0, at))) return true;
    }
    return false;
  };
  for (auto& f : scan.found) {
    if (!kept.empty() && kept.back().path == f.path) {
      kept.back().directory |= f.directory;
      if (f.directory) covers.insert(f.path);
      continue;
    }
    if (under_cover(f.path)) continue;
    if (f.directory) covers.insert(f.path);
    kept.push_back(std::move(f));
  }
  scan.found = std::move(kept);
  return scan;
}

}  // namespace ws::shares
