#include "guest-agent/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ws::agent {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string PathOf(const std::vector<std::string>& env) {
  for (const auto& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) return kv.substr(5);
  }
  return kDefaultPath;
}

Status CheckExecutable(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoStatus(path, errno);
  if (S_ISDIR(st.st_mode)) return {Code::kPermissionDenied, path + ": is a directory"};
  if (access(path.c_str(), X_OK) != 0) return ErrnoStatus(path, errno);
  return Status::Ok();
}

struct PipePair {
  unique_fd read, write;
};

Result<PipePair> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  return PipePair{unique_fd(fds[0]), unique_fd(fds[1])};
}

}  // namespace

Result<std::string> ResolveCommand(const std::string& name, const std::vector<std::string>& env) {
  if (name.empty()) return Status(Code::kNotFound, "empty command");
  if (name.find('/') != std::string::npos) {
    Status s = CheckExecutable(name);
    if (!s.ok()) return s;
    return name;
  }
  std::string path = PathOf(env);
  Status first_denied;
  size_t start = 0;
  for (;;) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    Status s = CheckExecutable(candidate);
    if (s.ok()) return candidate;
    if (s.code() != Code::kNotFound && first_denied.ok()) first_denied = s;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!first_denied.ok()) return first_denied;
  return Status(Code::kNotFound, name + ": command not found");
}

int ExitCodeForSpawnError(const Status& status) {
  return status.code() == Code::kNotFound ? 127 : 126;
}

Result<Child> Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return Status(Code::kNotFound, "no command given");
  auto resolved = ResolveCommand(spec.argv[0], spec.env);
  if (!resolved.ok()) return resolved.status();

  auto out = MakePipe();
  if (!out.ok()) return out.status();
  auto err = MakePipe();
  if (!err.ok()) return err.status();
  PipePair in;
  unique_fd devnull;
  if (spec.pipe_stdin) {
    auto p = MakePipe();
    if (!p.ok()) return p.status();
    in = std::move(p.value());
  } else {
    devnull.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devnull) return ErrnoStatus("/dev/null", errno);
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, spec.pipe_stdin ? in.read.get() : devnull.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out->write.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err->write.get(), 2);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, spec.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);  // SIGPIPE & co. back to default
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, resolved->c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    Status s = ErrnoStatus(spec.argv[0], rc);
    if (rc == ENOENT) return Status(Code::kNotFound, s.message());
    return Status(Code::kPermissionDenied, s.message());
  }

  Child child;
  child.pid = pid;
  if (spec.pipe_stdin) child.stdin_fd = std::move(in.write);
  child.stdout_fd = std::move(out->read);
  child.stderr_fd = std::move(err->read);
  SetNonBlocking(child.stdout_fd.get());
  SetNonBlocking(child.stderr_fd.get());
  return child;
}

}  // namespace ws::agent
