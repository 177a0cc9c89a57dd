#include "host/common/subprocess.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "host/common/unique_fd.h"

namespace ws {
namespace {

std::string LastLines(const std::string& out, int n) {
  size_t end = out.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  size_t start = end + 1;
  for (int i = 0; i < n && start > 0; ++i) {
    size_t nl = out.rfind('\n', start - 1);
    start = nl == std::string::npos ? 0 : nl;
    if (nl == std::string::npos) break;
  }
  if (start < out.size() && out[start] == '\n') ++start;
  return out.substr(start, end + 1 - start);
}

}  // namespace

Result<std::string> RunCommand(const std::vector<std::string>& argv,
                               const std::function<void(const std::string&)>& on_line) {
  if (argv.empty()) return Status(Code::kInvalidArgument, "empty command");
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  unique_fd rd(p[0]), wr(p[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(wr.get(), 1);
    dup2(wr.get(), 2);
    execvp(args[0], args.data());
    dprintf(2, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  wr.reset();
  std::string out, line;
  char buf[4096];
  for (;;) {
    ssize_t n = read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (!on_line) continue;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') {
        line += buf[i];
        continue;
      }
      on_line(line);
      line.clear();
    }
  }
  if (on_line && !line.empty()) on_line(line);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  std::string tail = LastLines(out, 3);
  for (char& c : tail) {
    if (c == '\n') c = ' ';
  }
  return Status(Code::kInternal, argv[0] + " " + how + (tail.empty() ? "" : ": " + tail));
}

std::string ExeDir() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().string();
}

}  // namespace ws
