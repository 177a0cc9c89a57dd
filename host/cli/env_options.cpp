#include "host/cli/env_options.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/common/printable.h"
#include "host/common/unique_fd.h"

namespace ws::cli {
namespace {

bool ValidName(const std::string& k) {
  if (k.empty()) return false;
  for (unsigned char ch : k) {
    if (ch == '=' || ch < 0x20 || ch == 0x7f) return false;
  }
  return true;
}

// One entry, "KEY=VALUE" or "KEY".
Status Add(const std::string& entry, const std::string& where, const EnvLookup& lookup,
           EnvResult* out) {
  const auto eq = entry.find('=');
  const std::string key = entry.substr(0, eq);
  if (!ValidName(key)) {
    return {Code::kInvalidArgument, where + ": '" + Printable(entry) + "' is not KEY=VALUE or KEY"};
  }
  if (eq != std::string::npos) {
    out->env.push_back(entry);
    return Status::Ok();
  }
  if (const char* v = lookup(key)) {
    out->env.push_back(key + "=" + v);
  } else {
    out->unset.push_back(key);
  }
  return Status::Ok();
}

Result<std::string> ReadSmallFile(const std::string& path) {
  unique_fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return ErrnoStatus("--env-file " + Printable(path), errno);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status(Code::kInvalidArgument,
                  "--env-file " + Printable(path) + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxEnvFile) {
    return Status(Code::kInvalidArgument,
                  "--env-file " + Printable(path) + " is larger than 1 MiB");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace

Status ParseEnvFile(const std::string& text, const std::string& where, const EnvLookup& lookup,
                    EnvResult* out) {
  size_t start = 0;
  for (int line_no = 1; start <= text.size(); ++line_no) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() + 1 : nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // docker: leading blanks go; the rest of the line is the value as written.
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    line.erase(0, first);
    const std::string at = where + " line " + std::to_string(line_no);
    if (line.find('=') == std::string::npos) {
      // Unlike docker: a file may have been written by the guest (it can
      // write the shared folder), and a bare KEY would copy this shell's
      // value of any name it likes into the VM. Only -e KEY does that.
      const auto last = line.find_last_not_of(" \t");
      line.erase(last + 1);
      return {Code::kInvalidArgument, at + ": '" + Printable(line) +
                                          "' has no value; a file gives KEY=VALUE "
                                          "(take a value from this shell with -e " +
                                          Printable(line) + ")"};
    }
    if (Status s = Add(line, at, lookup, out); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<EnvResult> ResolveEnv(const std::vector<std::string>& env_files,
                             const std::vector<std::string>& env_flags, const EnvLookup& lookup) {
  EnvResult out;
  for (const auto& f : env_files) {
    auto text = ReadSmallFile(f);
    if (!text.ok()) return text.status();
    if (Status s = ParseEnvFile(*text, "--env-file " + Printable(f), lookup, &out); !s.ok())
      return s;
  }
  for (const auto& e : env_flags) {
    if (Status s = Add(e, "--env", lookup, &out); !s.ok()) return s;
  }
  return out;
}

}  // namespace ws::cli
