#include "host/cli/project_trust.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "host/common/unique_fd.h"

namespace ws::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kHeader[] = "# trusted by `workspace trust`: ";

// Reads at most max+1 bytes of an open regular file.
Result<std::string> ReadBounded(int fd, const std::string& path, size_t max) {
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Status(Code::kFailedPrecondition, "cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max) {
      return Status(Code::kFailedPrecondition, path + " is larger than " +
                                                   std::to_string(max / 1024) +
                                                   " KiB; a project file is not that big");
    }
  }
}

// Where the trusted bytes of `path` are kept: one file per path, named by
// a hash of it (the path itself is the file's first line, and both are
// compared, so two paths with one hash only make each other ask again).
std::optional<std::string> EntryFor(const std::string& path) {
  auto dir = UserConfigDir();
  if (!dir) return std::nullopt;
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : path) h = (h ^ c) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.toml", static_cast<unsigned long long>(h));
  return *dir + "/trusted/" + name;
}

// An entry's path and trusted bytes; nullopt when it is not one of ours.
std::optional<ProjectText> ReadEntry(const std::string& entry) {
  unique_fd fd(open(entry.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  auto text = ReadBounded(fd.get(), entry, kMaxProjectFileBytes + 4096);
  if (!text.ok() || text->rfind(kHeader, 0) != 0) return std::nullopt;
  auto eol = text->find('\n');
  if (eol == std::string::npos) return std::nullopt;
  const size_t from = sizeof kHeader - 1;
  return ProjectText{text->substr(from, eol - from), text->substr(eol + 1)};
}

Status Refused(const ProjectText& p, Trust t) {
  const std::string dir = fs::path(p.path).parent_path().string();
  const std::string what =
      t == Trust::kChanged
          ? " has changed since you trusted it"
          : " is not trusted (a project file sets shares and network; the guest or a cloned "
            "repository may have written it)";
  return Status(Code::kFailedPrecondition,
                Printable(p.path) + what + "; read it, then run 'workspace trust' in " +
                    Printable(dir) + " (or pass create --trust; --no-project-file leaves it out)");
}

// Shows the file on the terminal and asks; true when the user said yes.
bool Ask(const ProjectText& p, Trust t) {
  std::fprintf(stderr, "%s %s. It says:\n\n", Printable(p.path).c_str(),
               t == Trust::kChanged ? "has changed since you trusted it" : "is not trusted yet");
  std::string line;
  for (char ch : Printable(p.text, true)) {
    line += ch;
    if (ch == '\n') {
      std::fprintf(stderr, "    %s", line.c_str());
      line.clear();
    }
  }
  if (!line.empty()) std::fprintf(stderr, "    %s\n", line.c_str());
  std::fprintf(stderr, "\nTrust it and use it? [y/N] ");
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

std::optional<std::string> UserConfigDir() {
  if (const char* x = getenv("XDG_CONFIG_HOME"); x && *x == '/')
    return std::string(x) + "/workspace";
  if (const char* h = getenv("HOME"); h && *h == '/') return std::string(h) + "/.config/workspace";
  return std::nullopt;
}

Result<std::optional<ProjectText>> ReadProjectText(const std::string& dir) {
  const std::string path = dir + "/" + kProjectFileName;
  unique_fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd && errno == ENOENT) return std::optional<ProjectText>();
  if (!fd && errno == ELOOP) {
    return Status(Code::kFailedPrecondition,
                  Printable(path) + " is a symlink; a project file must be a regular file");
  }
  if (!fd)
    return Status(Code::kFailedPrecondition,
                  "cannot open " + Printable(path) + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status(Code::kFailedPrecondition, Printable(path) + " is not a regular file");
  }
  auto text = ReadBounded(fd.get(), Printable(path), kMaxProjectFileBytes);
  if (!text.ok()) return text.status();
  return std::optional<ProjectText>(ProjectText{path, std::move(text.value())});
}

Trust TrustOf(const ProjectText& p) {
  auto entry = EntryFor(p.path);
  if (!entry) return Trust::kNew;
  auto kept = ReadEntry(*entry);
  if (!kept || kept->path != p.path) return Trust::kNew;
  return kept->text == p.text ? Trust::kTrusted : Trust::kChanged;
}

Status RecordTrust(const ProjectText& p) {
  if (p.path.find_first_of("\n\r") != std::string::npos) {
    return Status(Code::kInvalidArgument,
                  "cannot trust a project file whose path holds a line break");
  }
  auto entry = EntryFor(p.path);
  if (!entry)
    return Status(Code::kFailedPrecondition,
                  "cannot trust a project file: neither HOME nor XDG_CONFIG_HOME is set");
  const fs::path dir = fs::path(*entry).parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  chmod(dir.c_str(), 0700);
  const std::string tmp = *entry + ".tmp";
  unlink(tmp.c_str());
  unique_fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  const std::string body = kHeader + p.path + "\n" + p.text;
  if (!fd || write(fd.get(), body.data(), body.size()) != static_cast<ssize_t>(body.size()) ||
      fsync(fd.get()) != 0 || rename(tmp.c_str(), entry->c_str()) != 0) {
    const std::string why = std::strerror(errno);
    unlink(tmp.c_str());
    return Status(Code::kFailedPrecondition, "cannot write " + *entry + ": " + why);
  }
  return Status::Ok();
}

Status ForgetTrust(const std::string& path) {
  auto entry = EntryFor(path);
  auto kept = entry ? ReadEntry(*entry) : std::nullopt;
  if (!kept || kept->path != path)
    return Status(Code::kNotFound, Printable(path) + " is not trusted");
  if (unlink(entry->c_str()) != 0) {
    return Status(Code::kFailedPrecondition,
                  "cannot remove " + *entry + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

std::vector<TrustedFile> ListTrusted() {
  std::vector<TrustedFile> out;
  auto dir = UserConfigDir();
  if (!dir) return out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(*dir + "/trusted", ec)) {
    if (e.path().extension() != ".toml") continue;
    auto kept = ReadEntry(e.path().string());
    if (!kept) continue;
    TrustedFile t{kept->path, "missing"};
    auto now = ReadProjectText(fs::path(kept->path).parent_path().string());
    if (now.ok() && now->has_value()) t.state = (*now)->text == kept->text ? "trusted" : "changed";
    out.push_back(t);
  }
  std::sort(out.begin(), out.end(),
            [](const TrustedFile& a, const TrustedFile& b) { return a.path < b.path; });
  return out;
}

bool CanAsk() { return isatty(STDIN_FILENO) && isatty(STDERR_FILENO); }

Result<std::optional<ProjectFile>> LoadTrustedProjectFile(const std::string& dir, bool trust_now,
                                                          bool ask) {
  auto text = ReadProjectText(dir);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return std::optional<ProjectFile>();
  const ProjectText& p = **text;
  auto f = ParseProjectFile(p.text, dir);  // a bad file says so first, trusted or not
  if (!f.ok()) return f.status();
  const Trust t = TrustOf(p);
  if (t != Trust::kTrusted) {
    if (!trust_now && !ask) return Refused(p, t);
    if (!trust_now && !Ask(p, t)) {
      return Status(Code::kFailedPrecondition,
                    Printable(p.path) + " was not trusted; nothing was made");
    }
    if (Status s = RecordTrust(p); !s.ok()) return s;
  }
  return std::optional<ProjectFile>(std::move(f.value()));
}

}  // namespace ws::cli
