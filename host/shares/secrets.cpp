#include "host/shares/secrets.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "host/common/unique_fd.h"
#include "host/shares/protected_paths.h"

namespace ws::shares {
namespace {

constexpr size_t kMaxConfigBytes = 256 * 1024;  // a config this large is hidden, not stripped
constexpr size_t kKeyHeadBytes = 64 * 1024;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return std::string(s.substr(a, b - a + 1));
}

// Up to `max` bytes of a regular file, or false (not regular, unreadable).
bool ReadHead(int dir, const std::string& name, size_t max, std::string* out, bool* whole) {
  unique_fd fd(openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  out->clear();
  char buf[8192];
  while (out->size() < max) {
    ssize_t n = read(fd.get(), buf, std::min(sizeof buf, max - out->size()));
    if (n < 0) return false;
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  *whole = static_cast<size_t>(st.st_size) <= out->size();
  return true;
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
    while (start > i && (std::isalnum(static_cast<unsigned char>(text[start - 1])) || text[start - 1] == '+' ||
                         text[start - 1] == '.' || text[start - 1] == '-')) {
      --start;
    }
    const std::string scheme = Lower(text.substr(start, scheme_end - start));
    const size_t auth = scheme_end + 3;
    size_t end = auth;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) && text[end] != '/' &&
           text[end] != '"' && text[end] != '\'') {
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

// The key of an "key = value" or "key: value" line, lower-case.
std::string KeyOf(const std::string& line, char sep) {
  return Lower(Trim(std::string_view(line).substr(0, line.find(sep))));
}

bool NpmAuthLine(const std::string& line) {
  if (line.rfind("//", 0) == 0) return true;  // //registry.example/:_authToken=...
  const std::string key = KeyOf(line, '=');
  for (const char* k : {"_authtoken", "_auth", "_password", "password", "npmauthtoken", "npmauthident",
                        "npmpassword"}) {
    if (key == k || EndsWith(key, std::string(":") + k)) return true;
  }
  return false;
}

bool YarnAuthLine(const std::string& line) {
  const std::string key = KeyOf(line, ':');
  return key == "npmauthtoken" || key == "npmauthident" || key == "npmpassword" || NpmAuthLine(line);
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
  for (std::string_view s : {".npmrc", ".pypirc", ".git-credentials", ".netrc", ".env", ".envrc", ".dev.vars",
                             ".yarnrc", ".yarnrc.yml", "pip.conf", "terraform.tfvars", "terraform.tfvars.json"}) {
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
  return n == ".npmrc" || n == ".yarnrc" || n == ".yarnrc.yml" || n == ".pypirc" || n == ".netrc" ||
         n == "pip.conf";
}

std::string StripCredentials(std::string_view n, std::string_view text) {
  if (n == ".npmrc" || n == ".yarnrc") return DropLines(text, NpmAuthLine);
  if (n == ".yarnrc.yml") return DropLines(text, YarnAuthLine);
  if (n == ".pypirc") return DropLines(text, [](const std::string& l) { return KeyOf(l, '=') == "password"; });
  if (n == ".netrc") return StripNetrc(text);
  return DropLines(text, [](const std::string&) { return false; });  // pip.conf: URLs only
}

std::string StripGitConfig(std::string_view text) {
  return DropLines(text, [](const std::string& l) {
    const std::string key = KeyOf(l, '=');
    return key == "extraheader" || EndsWith(key, ".extraheader");
  });
}

SecretScan ScanSecrets(int root, const std::vector<std::string>& shown) {
  SecretScan scan;
  auto is_shown = [&](const std::string& rel) { return std::find(shown.begin(), shown.end(), rel) != shown.end(); };
  auto join = [](const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; };
  // A file found by its name `kind` (or a symlink's): hidden or stripped.
  // `dir` and `file` reach it; `rel` is its path.
  auto add_file = [&](int dir, const std::string& file, const std::string& rel, const std::string& kind,
                      const std::string& via) {
    if (is_shown(rel) || (!via.empty() && is_shown(via))) return;
    SecretFile f{rel, SecretAction::kHide, false, "", via};
    if (StripsCredentials(kind)) {
      std::string text;
      bool whole = false;
      if (!ReadHead(dir, file, kMaxConfigBytes, &text, &whole)) return;
      if (whole) {
        std::string stripped = StripCredentials(kind, text);
        if (stripped == text) return;  // no credential in it: the guest reads it as it is
        f.action = SecretAction::kStrip;
        f.stripped = std::move(stripped);
      }
    }
    scan.found.push_back(std::move(f));
  };
  struct Dir {
    unique_fd fd;
    std::string rel;
    int depth;
  };
  std::vector<Dir> stack;
  stack.push_back({unique_fd(dup(root)), "", 0});
  while (!stack.empty()) {
    Dir d = std::move(stack.back());
    stack.pop_back();
    if (!d.fd) continue;
    DIR* dp = fdopendir(dup(d.fd.get()));
    if (!dp) continue;
    const std::string dir_name = d.rel.substr(d.rel.find_last_of('/') + 1);
    while (dirent* e = readdir(dp)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (++scan.entries > kMaxScanEntries) {
        scan.cut = true;
        break;
      }
      const std::string rel = join(d.rel, name);
      unsigned type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(d.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      }
      if (type == DT_DIR) {
        if (name == "node_modules" || name == ".git") continue;
        if (IsSecretFolderName(name)) {
          if (!is_shown(rel)) scan.found.push_back({rel, SecretAction::kHide, true, "", ""});
          continue;
        }
        if (d.depth + 1 >= kMaxScanDepth) {
          scan.cut = true;
          continue;
        }
        unique_fd sub(openat(d.fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub) stack.push_back({std::move(sub), rel, d.depth + 1});
      } else if (type == DT_REG) {
        const bool by_folder = (dir_name == ".docker" && name == "config.json") || (dir_name == ".kube" && name == "config");
        if (IsSecretName(name) || by_folder) {
          add_file(d.fd.get(), name, rel, name, "");
        } else if (MayBePrivateKey(name)) {
          std::string head;
          bool whole = false;
          if (ReadHead(d.fd.get(), name, kKeyHeadBytes, &head, &whole) && LooksLikePrivateKey(head) && !is_shown(rel)) {
            scan.found.push_back({rel, SecretAction::kHide, false, "", ""});
          }
        }
      } else if (type == DT_LNK && IsSecretName(name)) {
        // .env -> config/prod.env: the guest follows it to a file in the share.
        char buf[4096];
        ssize_t n = readlinkat(d.fd.get(), name.c_str(), buf, sizeof buf - 1);
        if (n <= 0 || buf[0] == '/') continue;  // absolute: a guest path, not this share's file
        const std::string target = join(d.rel, std::string(buf, static_cast<size_t>(n)));
        open_how how{};
        how.flags = O_PATH | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        unique_fd t(static_cast<int>(syscall(SYS_openat2, root, target.c_str(), &how, sizeof how)));
        struct stat st;
        if (!t || fstat(t.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        // Where it really is, for the mask: its path beneath the share's top.
        char real[4096], top[4096];
        ssize_t rn = readlink(("/proc/self/fd/" + std::to_string(t.get())).c_str(), real, sizeof real - 1);
        ssize_t tn = readlink(("/proc/self/fd/" + std::to_string(root)).c_str(), top, sizeof top - 1);
        if (rn <= 0 || tn <= 0) continue;
        const std::string real_s(real, static_cast<size_t>(rn)), top_s(top, static_cast<size_t>(tn));
        if (real_s.size() <= top_s.size() + 1 || real_s.compare(0, top_s.size() + 1, top_s + "/") != 0) continue;
        const std::string real_rel = real_s.substr(top_s.size() + 1);
        const std::string parent = real_rel.find('/') == std::string::npos ? "" : real_rel.substr(0, real_rel.rfind('/'));
        unique_fd pfd(parent.empty() ? dup(root)
                                     : static_cast<int>(syscall(SYS_openat2, root, parent.c_str(), &how, sizeof how)));
        if (pfd) add_file(pfd.get(), real_rel.substr(real_rel.find_last_of('/') + 1), real_rel, name, rel);
      }
    }
    closedir(dp);
  }
  std::sort(scan.found.begin(), scan.found.end(),
            [](const SecretFile& a, const SecretFile& b) { return a.path < b.path; });
  scan.found.erase(std::unique(scan.found.begin(), scan.found.end(),
                               [](const SecretFile& a, const SecretFile& b) { return a.path == b.path; }),
                   scan.found.end());
  return scan;
}

}  // namespace ws::shares
