#include "guest-agent/exec_spec.h"

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "guest-agent/host_settings.h"
#include "guest-agent/node_fetch_proxy.h"
#include "guest-agent/proxy.h"
#include "guest-agent/users.h"

namespace ws::agent {
namespace {

using workspace::v1::ExecStart;

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> BuildEnv(const ExecStart& start, const User& user) {
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" + user.home,
      "USER=" + user.name,
      "LOGNAME=" + user.name,
      "SHELL=" + user.shell,
      "LANG=C.UTF-8",
  };
  if (start.tty())
    env.push_back("TERM=" + (start.term().empty() ? std::string("xterm") : start.term()));
  if (EgressProxy::Instance().running()) {
    const std::string proxy = "http://127.0.0.1:" + std::to_string(kProxyPort);
    for (const char* k : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) {
      env.push_back(std::string(k) + "=" + proxy);
    }
    env.push_back("NO_PROXY=localhost,127.0.0.1");
    env.push_back("no_proxy=localhost,127.0.0.1");
    // node's fetch through the proxy: itself from 22.21 on, else our script.
    env.push_back("NODE_USE_ENV_PROXY=1");
    if (access(kNodeFetchProxyPath, R_OK) == 0) {  // else node would not start at all
      env.push_back(std::string("NODE_OPTIONS=--require=") + kNodeFetchProxyPath);
    }
  }
  std::vector<std::string> own = HostEnv();  // the host's settings, then the exec's own
  own.insert(own.end(), start.env().begin(), start.env().end());
  for (const auto& kv : own) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = kv.substr(0, eq + 1);
    bool replaced = false;
    for (auto& e : env) {
      if (e.rfind(key, 0) == 0) {
        e = kv;
        replaced = true;
      }
    }
    if (!replaced) env.push_back(kv);
  }
  return env;
}

std::string DefaultCwd(const User& user) {
  for (const std::string& d : {std::string("/workspace"), user.home}) {
    if (IsDir(d)) return d;
  }
  return "/";
}

}  // namespace

bool PrepareSpawn(const ExecStart& start, SpawnSpec* spec, std::string* error, int* code) {
  auto user = LookupUser(start.user());
  if (!user.ok()) {
    *error = user.status().message(), *code = 126;
    return false;
  }
  spec->env = BuildEnv(start, user.value());
  spec->cwd = start.cwd().empty() ? DefaultCwd(user.value()) : start.cwd();
  spec->pipe_stdin = start.attach_stdin();
  spec->tty = start.tty();
  if (start.has_window() && start.window().rows() && start.window().cols()) {
    spec->window = {start.window().rows(), start.window().cols()};
  }
  spec->uid = user->uid;
  spec->gid = user->gid;
  spec->groups = user->groups;
  if (start.login_shell()) {
    spec->path = user->shell;
    spec->argv = {"-" + user->shell.substr(user->shell.rfind('/') + 1)};
  } else {
    spec->argv.assign(start.argv().begin(), start.argv().end());
    auto path = ResolveCommand(spec->argv[0], spec->env);
    if (!path.ok()) {
      *error = path.status().message(), *code = ExitCodeForSpawnError(path.status());
      return false;
    }
    spec->path = path.value();
  }
  if (!IsDir(spec->cwd)) {
    *error = "working directory " + spec->cwd + " does not exist", *code = 126;
    return false;
  }
  return true;
}

}  // namespace ws::agent
