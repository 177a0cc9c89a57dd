#include "host/cli/secret_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "host/cli/exit_codes.h"
#include "host/common/grpc_status.h"
#include "host/store/secret_store.h"

namespace ws::cli {
namespace {

constexpr size_t kMaxValue = 16 * 1024;

// One trailing newline (what files and commands end with) is not part of it.
std::string Chomp(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

Result<std::string> ReadValueFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus("--from-file " + path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status(Code::kFailedPrecondition, "--from-file " + path + ": not a regular file");
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 && text.size() <= kMaxValue) {
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (text.size() > kMaxValue) {
    return Status(Code::kFailedPrecondition, "--from-file " + path + ": over 16 KiB");
  }
  return Chomp(text);
}

// Runs `cmd` with sh as the calling user; its stdout is the value.
Result<std::string> RunValueCommand(const std::string& cmd) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    dup2(out[1], 1);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) {
    if (text.size() <= kMaxValue) text.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status(Code::kFailedPrecondition,
                  "--from-command failed (exit " +
                      std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128) +
                      "); nothing was added");
  }
  if (text.size() > kMaxValue) {
    return Status(Code::kFailedPrecondition, "--from-command: over 16 KiB");
  }
  return Chomp(text);
}

void PrintSecret(const v1::SecretInfo& s) {
  std::string bound;
  for (const auto& w : s.bound_to()) bound += (bound.empty() ? "" : ",") + w;
  std::printf("%-20s %-28s %-16s %-14s %-26s %s\n", s.name().c_str(), s.host().c_str(),
              s.header().c_str(), s.format().c_str(), s.env().empty() ? "-" : s.env().c_str(),
              bound.empty() ? "-" : bound.c_str());
}

}  // namespace

SecretCommands::SecretCommands(CLI::App& app, Context& context) : c(context) {
  auto* secret = app.add_subcommand(
      "secret",
      "Secrets the host puts into requests to one host; the workspace holds only a placeholder");
  secret->require_subcommand(1);

  auto* add = secret->add_subcommand(
      "add",
      "Add (or replace) a secret of yours: secret add NAME --from-env VAR | --from-file "
      "PATH | --from-command CMD");
  add->add_option("name", name,
                  "Its name (a preset's name takes the preset: anthropic, "
                  "anthropic-oauth, openai, github)")
      ->required();
  add->add_option("--preset", preset,
                  "Host, header, format and variable of a known service: "
                  "anthropic, anthropic-oauth, openai, github");
  add->add_option("--host", host, "The one host it is sent to (e.g. api.anthropic.com)");
  add->add_option("--header", header, "The request header it goes in (e.g. x-api-key)");
  add->add_option("--format", format,
                  "The header's value, {} standing for the secret (default {})");
  add->add_option("--env", env, "The variable that holds its placeholder in the workspace");
  add->add_option("--from-env", from_env, "Read it from this variable of yours");
  add->add_option("--from-file", from_file,
                  "Read it from this file (one trailing newline dropped)");
  add->add_option("--from-command", from_command,
                  "Run this command (sh -c, as you) and take its output");
  add->add_flag("--json", json, "JSON output: the secret as stored, without its value");
  add->callback([&] { Add(); });

  auto* list = secret->add_subcommand("list", "List your secrets (never their values)");
  list->alias("ls");
  list->add_flag("--json", json, "JSON output (fields in docs/cli.md)");
  list->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::SecretListRequest req;
    v1::SecretListResponse resp;
    Status s = FromGrpc(stub->SecretList(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    if (resp.secrets().empty()) {
      return void(
          std::fprintf(stderr, "no secrets; add one with: workspace secret add NAME ...\n"));
    }
    std::printf("%-20s %-28s %-16s %-14s %-26s %s\n", "NAME", "HOST", "HEADER", "FORMAT", "ENV",
                "BOUND TO");
    for (const auto& e : resp.secrets()) PrintSecret(e);
  });

  auto* rm = secret->add_subcommand("rm", "Forget secrets of yours (unbinding them everywhere)");
  rm->alias("remove");
  rm->add_option("names", names, "Their names")->required();
  rm->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    for (const auto& n : names) {
      grpc::ClientContext ctx;
      v1::SecretRemoveRequest req;
      req.set_name(n);
      v1::SecretRemoveResponse resp;
      Status s = FromGrpc(stub->SecretRemove(Deadline(&ctx, 60), req, &resp));
      if (!s.ok()) {
        c.code = Fail(s);
        continue;
      }
      for (const auto& w : resp.unbound_from()) {
        std::fprintf(stderr, "unbound '%s' from workspace '%s'\n", n.c_str(), w.c_str());
      }
    }
  });

  auto* bind = secret->add_subcommand(
      "bind",
      "Bind secrets to a workspace (at once, for its next connection and exec): bind "
      "[WORKSPACE] NAME...");
  bind->add_option("args", bind_args, "[WORKSPACE] then the secrets' names")->required();
  bind->add_flag("--json", json, "JSON output: the workspace's bindings");
  bind->callback([&] { Bind(true); });
  auto* unbind = secret->add_subcommand("unbind",
                                        "Unbind secrets from a workspace: unbind "
                                        "[WORKSPACE] NAME...");
  unbind->add_option("args", bind_args, "[WORKSPACE] then the secrets' names")->required();
  unbind->add_flag("--json", json, "JSON output: the workspace's bindings");
  unbind->callback([&] { Bind(false); });
}

void SecretCommands::Add() {
  v1::SecretAddRequest req;
  req.set_name(name);
  const std::string preset_name = !preset.empty() ? preset : (host.empty() ? name : "");
  if (const store::SecretPreset* p = store::FindPreset(preset_name)) {
    req.set_host(p->host);
    req.set_header(p->header);
    req.set_format(p->format);
    req.set_env(p->env);
  } else if (!preset.empty()) {
    return void(c.code = Fail("--preset " + preset +
                                  ": no such preset (anthropic, anthropic-oauth, openai, github)",
                              kUsage));
  } else if (host.empty()) {
    return void(c.code = Fail("give --host HOST and --header HEADER, or --preset (or name it "
                              "after a preset: anthropic, anthropic-oauth, openai, github)",
                              kUsage));
  }
  if (!host.empty()) req.set_host(host);
  if (!header.empty()) req.set_header(header);
  if (!format.empty()) req.set_format(format);
  if (req.format().empty()) req.set_format("{}");
  if (!env.empty()) req.set_env(env);
  if (req.header().empty()) return void(c.code = Fail("give --header HEADER", kUsage));
  const int sources = !from_env.empty() + !from_file.empty() + !from_command.empty();
  if (sources != 1) {
    return void(c.code = Fail("give exactly one of --from-env VAR, --from-file PATH, "
                              "--from-command CMD",
                              kUsage));
  }
  Result<std::string> value = std::string();
  if (!from_env.empty()) {
    const char* v = getenv(from_env.c_str());
    if (!v || !*v) {
      return void(c.code = Fail("--from-env " + from_env + ": the variable is not set", kFailure));
    }
    value = std::string(v);
  } else if (!from_file.empty()) {
    value = ReadValueFile(from_file);
  } else {
    value = RunValueCommand(from_command);
  }
  if (!value.ok()) return void(c.code = Fail(value.status()));
  req.set_value(value.value());
  Stub* stub = c.Connect(false);
  if (!stub) return;
  grpc::ClientContext ctx;
  v1::SecretInfo resp;
  Status s = FromGrpc(stub->SecretAdd(Deadline(&ctx, 60), req, &resp));
  if (!s.ok()) return void(c.code = Fail(s));
  if (json) return void(std::printf("%s\n", ToJson(resp).c_str()));
  std::fprintf(
      stderr, "secret '%s' for %s (%s); bind it with: workspace secret bind WORKSPACE %s\n",
      resp.name().c_str(), resp.host().c_str(), resp.header().c_str(), resp.name().c_str());
}

void SecretCommands::Bind(bool bind) {
  Stub* stub = c.Connect(false);
  if (!stub) return;
  std::string workspace;
  // Two words or more: WORKSPACE first; one: a secret of the current folder's workspace.
  if (!c.SplitName(stub, &bind_args, &workspace, bind_args.size() >= 2)) return;
  if (bind_args.empty()) return void(c.code = Fail("give the secrets' names", kUsage));
  v1::SecretBindRequest req;
  req.set_workspace(workspace);
  for (const auto& n : bind_args) bind ? req.add_add(n) : req.add_remove(n);
  grpc::ClientContext ctx;
  v1::SecretBindResponse resp;
  Status s = FromGrpc(stub->SecretBind(Deadline(&ctx, 60), req, &resp));
  if (!s.ok()) return void(c.code = Fail(s));
  if (json) return void(std::printf("%s\n", ToJson(resp).c_str()));
  for (const auto& b : resp.bindings()) {
    std::printf("%-20s %-28s %s\n", b.secret().c_str(), b.host().c_str(),
                b.env().empty() ? "-" : (b.env() + "=<placeholder>").c_str());
  }
}

}  // namespace ws::cli
