#include "host/cli/commands.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "host/cli/client.h"
#include "host/cli/cp_command.h"
#include "host/cli/default_allow.h"
#include "host/cli/doctor.h"
#include "host/cli/project_file.h"
#include "host/cli/exec_command.h"
#include "host/cli/exit_codes.h"
#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/unique_fd.h"
#include "host/shares/share_spec.h"
#include "host/controller/daemon.h"

namespace ws::cli {
namespace {

namespace v1 = workspace::v1;
using Stub = v1::Controller::Stub;

// Commands whose exit code is the remote command's: their own failures are 125.
bool IsExecLike(const std::string& cmd) { return cmd == "exec" || cmd == "shell"; }

// "[HOST_PORT:]GUEST_PORT" -> a PortForward (host 0: any free port).
Result<v1::PortForward> ParsePortSpec(const std::string& spec) {
  auto num = [](const std::string& s, uint32_t* out) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    *out = static_cast<uint32_t>(std::stoul(s));
    return *out >= 1 && *out <= 65535;
  };
  v1::PortForward f;
  uint32_t h = 0, g = 0;
  auto colon = spec.find(':');
  bool ok = colon == std::string::npos ? num(spec, &g) : num(spec.substr(0, colon), &h) && num(spec.substr(colon + 1), &g);
  if (!ok) return Status(Code::kInvalidArgument, "'" + spec + "' is not [HOST_PORT:]GUEST_PORT (ports 1-65535)");
  f.set_host_port(h);
  f.set_guest_port(g);
  return f;
}

// The subcommand named on the command line (even when parsing failed).
std::string CommandOf(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--state-dir" || a == "--connect" || a == "--accel") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] != '-') return a;
  }
  return "";
}

int Fail(const std::string& msg, int code) {
  std::fprintf(stderr, "workspace: %s\n", msg.c_str());
  return code;
}

[[maybe_unused]] int Fail(const Status& s, bool exec_like = false) {
  return Fail(s.message(), exec_like ? kExecFailure : ExitCodeFor(s));
}

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

bool Tty() { return isatty(2); }

struct Context {
  GlobalOptions global;
  std::unique_ptr<Stub> stub;
  // Connects on first use; prints and returns false on failure.
  Stub* Connect(bool exec_like, int* code) {
    if (stub) return stub.get();
    auto s = ConnectDaemon(global);
    if (!s.ok()) {
      *code = Fail(s.status(), exec_like);
      return nullptr;
    }
    stub = std::move(s.value());
    return stub.get();
  }
};

grpc::ClientContext* Deadline(grpc::ClientContext* ctx, int seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

void PrintTable(const std::vector<const v1::Workspace*>& rows) {
  std::printf("%-24s %-9s %-10s %4s %8s  %s\n", "NAME", "STATE", "IMAGE", "CPUS", "MEMORY", "CREATED");
  for (const auto* w : rows) {
    std::printf("%-24s %-9s %-10s %4u %5uMiB  %s\n", w->name().c_str(), w->state().c_str(),
                w->image().c_str(), w->cpus(), w->memory_mib(), w->created_at().c_str());
  }
}

void PrintDetails(const v1::Workspace& w) {
  std::printf("Name:        %s\nState:       %s\nImage:       %s\nCPUs:        %u\n"
              "Memory:      %u MiB\nAccelerator: %s\nOwner uid:   %u\nCreated:     %s\n"
              "UUID:        %s\nConsole log: %s\n",
              w.name().c_str(), w.state().c_str(), w.image().c_str(), w.cpus(), w.memory_mib(),
              w.accel().c_str(), w.owner_uid(), w.created_at().c_str(), w.uuid().c_str(),
              w.console_log().c_str());
  std::printf("Shares:%s\n", w.shares().empty() ? "      none" : "");
  auto join = [](const auto& list) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("none") : s;
  };
  for (const auto& sh : w.shares()) {
    std::printf("  %s -> %s (%s)\n    hidden: %s\n    shown: %s\n    read-only git paths: %s\n",
                sh.host_path().c_str(), sh.guest_path().c_str(), sh.mode().c_str(), join(sh.hidden()).c_str(),
                join(sh.shown()).c_str(), join(sh.protected_paths()).c_str());
  }
  std::printf("Network:     %s\n", w.net().c_str());
  for (const auto& f : w.ports()) std::printf("  port 127.0.0.1:%u -> guest %u\n", f.host_port(), f.guest_port());
  for (const auto& a : w.allow()) {
    std::string h = a.host().find(':') != std::string::npos ? "[" + a.host() + "]" : a.host();
    std::string port = a.port() ? ":" + std::to_string(a.port()) : " (80, 443)";
    std::printf("  allow %s%s  from %s\n", h.c_str(), port.c_str(), a.source().c_str());
  }
}

}  // namespace

int Run(int argc, char** argv) {
  CLI::App app{"workspace: a throwaway VM per project, with only the folders you share and "
               "only the network you allow.",
               "workspace"};
  app.set_version_flag("--version", std::string("workspace ") + WS_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.footer("Reference: docs/cli.md. Exit codes: 0 ok, 1 failure, 2 usage error; exec exits "
             "with the command's code, 125 when workspace itself fails.");

  Context c;
  c.global.state_dir = kDefaultStateDir;
  app.add_option("--state-dir", c.global.state_dir, "State directory (default /var/lib/workspace)")
      ->envname("WORKSPACE_STATE_DIR");
  app.add_option("--connect", c.global.connect_uri,
                 "libvirt URI for a daemon started now (default: embedded, no libvirtd)")
      ->envname("WORKSPACE_CONNECT");
  app.add_option("--accel", c.global.accel, "auto, kvm or tcg, for a daemon started now")
      ->envname("WORKSPACE_ACCEL");

  int code = kOk;

  // create
  v1::CreateRequest create;
  std::string create_name;
  auto* create_cmd = app.add_subcommand("create", "Create and boot a workspace");
  create_cmd->add_option("name", create_name, "Workspace name (default: the current folder's name)");
  create_cmd->add_option("--image", *create.mutable_image(), "Guest image (default minimal)")
      ->envname("WORKSPACE_IMAGE");
  create_cmd->add_option("--cpus", [&](const CLI::results_t& r) { create.set_cpus(std::stoul(r[0])); return true; },
                         "Virtual CPUs")->type_name("N")->check(CLI::Range(1, 512));
  create_cmd->add_option("--memory", [&](const CLI::results_t& r) { create.set_memory_mib(std::stoul(r[0])); return true; },
                         "Guest memory in MiB")->type_name("MIB")->check(CLI::Range(128, 1 << 20));
  std::vector<std::string> share_specs, show_files;
  bool no_share = false, share_dangerous = false;
  create_cmd->add_option("--share", share_specs,
                         "Share a host folder: HOST_PATH[:GUEST_PATH][:ro] (repeatable; default: the "
                         "current folder at /workspace)")
      ->allow_extra_args(false);
  create_cmd->add_flag("--no-share", no_share, "Share no host folder");
  create_cmd->add_option("--show", show_files, "Do not hide this secret file (.env, .npmrc, ...) in shares")
      ->allow_extra_args(false);
  create_cmd->add_flag("--share-dangerous", share_dangerous, "Allow sharing / or your home folder");
  std::string net_mode = "allowlist";
  std::vector<std::string> allow_specs;
  bool no_default_allow = false;
  create_cmd->add_option("--net", net_mode, "Network: allowlist (default), none, or open (unfiltered)")
      ->check(CLI::IsMember({"allowlist", "none", "open"}));
  create_cmd->add_option("--allow", allow_specs, "Allow egress to HOST[:PORT] or *.DOMAIN (repeatable)")
      ->allow_extra_args(false);
  std::vector<std::string> publish_specs;
  create_cmd->add_option("--publish", publish_specs,
                         "Publish a guest port on the host's 127.0.0.1: [HOST_PORT:]GUEST_PORT (repeatable)")
      ->allow_extra_args(false);
  create_cmd->add_flag("--no-default-allow", no_default_allow,
                       "Start from an empty allowlist (no registries, no AI APIs)");
  create_cmd->callback([&] {
    const std::string cwd = std::filesystem::current_path().string();
    // The project file gives what flags do not.
    auto project = LoadProjectFile(cwd);
    if (!project.ok()) return void(code = Fail(project.status()));
    if (project->has_value()) {
      const ProjectFile& f = **project;
      if (create_name.empty() && f.name) create_name = *f.name;
      if (!create_cmd->count("--image") && f.image) create.set_image(*f.image);
      if (!create_cmd->count("--cpus") && f.cpus) create.set_cpus(*f.cpus);
      if (!create_cmd->count("--memory") && f.memory_mib) create.set_memory_mib(*f.memory_mib);
      if (!create_cmd->count("--net") && f.net) net_mode = *f.net;
      if (!create_cmd->count("--no-default-allow") && f.default_allow) no_default_allow = !*f.default_allow;
      allow_specs.insert(allow_specs.begin(), f.allow.begin(), f.allow.end());
      publish_specs.insert(publish_specs.begin(), f.publish.begin(), f.publish.end());
      if (share_specs.empty() && !no_share && f.shares) {
        if (f.shares->empty()) no_share = true;
        for (const auto& sh : *f.shares) {
          share_specs.push_back(sh.path + (sh.guest.empty() ? "" : ":" + sh.guest) + (sh.read_only ? ":ro" : ""));
        }
      }
      if (net_mode != "allowlist" && net_mode != "none" && net_mode != "open") {
        return void(code = Fail(std::string(kProjectFileName) + ": net must be allowlist, none or open", kUsage));
      }
    }
    if (create_name.empty()) create_name = NameFromFolder(std::filesystem::current_path().filename().string());
    Status valid = ValidateName(create_name);
    if (!valid.ok()) return void(code = Fail(valid));
    create.set_name(create_name);
    if (no_share && !share_specs.empty()) return void(code = Fail("--share and --no-share exclude each other", kUsage));
    if (!no_share && share_specs.empty()) {
      const char* home = getenv("HOME");
      if ((cwd == "/" || (home && std::filesystem::path(home) == std::filesystem::path(cwd))) && !share_dangerous) {
        return void(code = Fail("create shares the current folder, and " + cwd +
                                    " is too much to share; run it in a project folder, or pass "
                                    "--share DIR or --no-share",
                                kUsage));
      }
      share_specs.push_back(cwd + ":" + shares::kDefaultGuestPath);
    }
    for (const auto& raw : share_specs) {
      std::string spec = raw.empty() || raw[0] == '/' ? raw : cwd + "/" + raw;
      auto parsed = shares::ParseShareSpec(spec);
      if (!parsed.ok()) return void(code = Fail(parsed.status()));
      auto* sh = create.add_shares();
      sh->set_host_path(parsed->host_path);
      sh->set_guest_path(parsed->guest_path);
      sh->set_read_only(parsed->read_only);
      for (const auto& f : show_files) sh->add_show(f);
    }
    create.set_allow_dangerous_shares(share_dangerous);
    create.set_net(net_mode);
    for (const auto& spec : publish_specs) {
      auto f = ParsePortSpec(spec);
      if (!f.ok()) return void(code = Fail(f.status()));
      *create.add_publish() = f.value();
    }
    if (net_mode != "allowlist" && !allow_specs.empty()) {
      return void(code = Fail("--allow needs --net allowlist", kUsage));
    }
    if (net_mode == "open") {
      std::fprintf(stderr, "workspace: warning: --net open gives the workspace a network interface with "
                           "unfiltered access (the host's own loopback included, via 10.0.2.2); nothing is "
                           "checked or audited\n");
    }
    std::vector<net::AllowEntry> allow;
    if (net_mode == "allowlist" && !no_default_allow) allow = DefaultAllowlist();
    for (const auto& spec : allow_specs) {
      auto e = net::ParseAllowEntry(spec, "user");
      if (!e.ok()) return void(code = Fail(e.status()));
      allow.push_back(e.value());
    }
    for (const auto& a : allow) {
      auto* r = create.add_allow();
      r->set_host(a.host);
      r->set_port(a.port);
      r->set_source(a.source);
    }
    if (net_mode == "allowlist" && !no_default_allow &&
        std::none_of(allow.begin(), allow.end(), [](const net::AllowEntry& a) {
          return a.source == "apt" || a.source == "npm" || a.source == "pip";
        })) {
      std::fprintf(stderr, "workspace: warning: no package registry found in this host's apt, npm or pip "
                           "configuration; add them with --allow\n");
    }
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    if (Tty()) std::fprintf(stderr, "Creating workspace '%s'...\n", create_name.c_str());
    auto t0 = std::chrono::steady_clock::now();
    grpc::ClientContext ctx;
    v1::CreateResponse resp;
    Status s = FromGrpc(stub->Create(Deadline(&ctx, 300), create, &resp));
    if (!s.ok()) return void(code = Fail(s));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& sh : resp.workspace().shares()) {
      for (const auto& h : sh.hidden()) {
        std::fprintf(stderr, "Hidden from the guest: %s/%s (show it with --show %s)\n", sh.host_path().c_str(),
                     h.c_str(), h.c_str());
      }
    }
    if (Tty()) {
      std::fprintf(stderr, "Workspace '%s' is running (%s image, %u CPU, %u MiB, %.1f s).\n"
                           "Run a command: workspace exec %s -- uname -a\n",
                   create_name.c_str(), resp.workspace().image().c_str(), resp.workspace().cpus(),
                   resp.workspace().memory_mib(), secs, create_name.c_str());
    }
    std::printf("%s\n", create_name.c_str());
  });

  // list
  bool list_json = false;
  auto* list_cmd = app.add_subcommand("list", "List your workspaces");
  list_cmd->alias("ls");
  list_cmd->add_flag("--json", list_json, "JSON output (fields in docs/cli.md)");
  list_cmd->callback([&] {
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::ListResponse resp;
    Status s = FromGrpc(stub->List(Deadline(&ctx, 30), v1::ListRequest(), &resp));
    if (!s.ok()) return void(code = Fail(s));
    if (list_json) {
      std::string out = "[";
      for (int i = 0; i < resp.workspaces_size(); ++i) {
        out += (i ? "," : "") + ToJson(resp.workspaces(i));
      }
      std::printf("%s]\n", out.c_str());
      return;
    }
    std::vector<const v1::Workspace*> rows;
    for (const auto& w : resp.workspaces()) rows.push_back(&w);
    PrintTable(rows);
  });

  // inspect
  std::string inspect_name;
  bool inspect_json = false;
  auto* inspect_cmd = app.add_subcommand("inspect", "Show one workspace in detail");
  inspect_cmd->add_option("name", inspect_name, "Workspace name")->required();
  inspect_cmd->add_flag("--json", inspect_json, "JSON output (fields in docs/cli.md)");
  inspect_cmd->callback([&] {
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::InspectRequest req;
    req.set_name(inspect_name);
    v1::InspectResponse resp;
    Status s = FromGrpc(stub->Inspect(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(code = Fail(s));
    if (inspect_json) {
      std::printf("%s\n", ToJson(resp.workspace()).c_str());
    } else {
      PrintDetails(resp.workspace());
    }
  });

  // exec
  ExecOptions exec;
  auto* exec_cmd = app.add_subcommand("exec", "Run a command in a workspace: exec NAME -- CMD [ARG...]");
  exec_cmd->add_flag("-i,--interactive", exec.interactive, "Forward stdin to the command");
  exec_cmd->add_flag("-t,--tty", exec.tty, "Run on a pseudo-terminal (raw mode here, window size follows)");
  exec_cmd->add_option("-u,--user", exec.user, "Guest user name or uid (default: user, else root)");
  exec_cmd->add_option("-e,--env", exec.env, "Set an environment variable (KEY=VALUE), repeatable")
      ->allow_extra_args(false);
  exec_cmd->add_option("-w,--cwd", exec.cwd, "Working directory in the guest");
  exec_cmd->add_option("--timeout", exec.timeout_seconds, "Kill the command after SEC seconds (exit 124)")
      ->type_name("SEC");
  exec_cmd->add_option("name", exec.workspace, "Workspace name")->required();
  exec_cmd->add_option("command", exec.argv, "Command and arguments, after --")->required();
  exec_cmd->callback([&] {
    for (const auto& kv : exec.env) {
      if (kv.find('=') == std::string::npos || kv[0] == '=') {
        return void(code = Fail("--env wants KEY=VALUE, got '" + kv + "'", kExecFailure));
      }
    }
    Stub* stub = c.Connect(true, &code);
    if (!stub) return;
    code = RunExec(stub, exec);
  });

  // shell
  ExecOptions shell;
  auto* shell_cmd = app.add_subcommand("shell", "Open an interactive login shell in a workspace");
  shell_cmd->add_option("-u,--user", shell.user, "Guest user name or uid (default: user, else root)");
  shell_cmd->add_option("-w,--cwd", shell.cwd, "Working directory in the guest");
  shell_cmd->add_option("name", shell.workspace, "Workspace name")->required();
  shell_cmd->callback([&] {
    shell.interactive = shell.tty = shell.login_shell = true;
    shell.argv = {"shell"};
    Stub* stub = c.Connect(true, &code);
    if (!stub) return;
    code = RunExec(stub, shell);
  });

  // cp
  CpOptions cp;
  auto* cp_cmd = app.add_subcommand("cp", "Copy files and folders: cp SRC DST, with NAME:/path on one side");
  cp_cmd->add_flag("-L,--dereference", cp.follow_symlinks, "Follow host symlinks when copying in");
  cp_cmd->add_option("src", cp.src, "Source: a host path or NAME:/path")->required();
  cp_cmd->add_option("dst", cp.dst, "Destination: a host path or NAME:/path")->required();
  cp_cmd->callback([&] {
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    code = RunCp(stub, cp);
  });

  // start / stop / destroy
  std::string start_name, stop_name, destroy_name;
  bool destroy_force = false;
  auto* start_cmd = app.add_subcommand("start", "Boot a stopped workspace");
  start_cmd->add_option("name", start_name, "Workspace name")->required();
  start_cmd->callback([&] {
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::StartRequest req;
    req.set_name(start_name);
    v1::StartResponse resp;
    Status s = FromGrpc(stub->Start(Deadline(&ctx, 300), req, &resp));
    if (!s.ok()) return void(code = Fail(s));
    if (Tty()) std::fprintf(stderr, "Workspace '%s' is running.\n", start_name.c_str());
  });
  auto* stop_cmd = app.add_subcommand("stop", "Power a workspace off (forced after 10 s)");
  stop_cmd->add_option("name", stop_name, "Workspace name")->required();
  stop_cmd->callback([&] {
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::StopRequest req;
    req.set_name(stop_name);
    v1::StopResponse resp;
    Status s = FromGrpc(stub->Stop(Deadline(&ctx, 120), req, &resp));
    if (!s.ok()) return void(code = Fail(s));
    if (resp.forced()) {
      std::fprintf(stderr, "workspace: '%s' did not power off within 10 s and was forced off\n",
                   stop_name.c_str());
    }
  });
  bool destroy_all = false;
  auto* destroy_cmd = app.add_subcommand("destroy", "Delete a workspace (or --all of yours): its VM and every file of it");
  destroy_cmd->alias("rm");
  destroy_cmd->add_option("name", destroy_name, "Workspace name");
  destroy_cmd->add_flag("-f,--force", destroy_force, "Destroy even when running");
  destroy_cmd->add_flag("--all", destroy_all, "Destroy every workspace you can see (running ones need --force)");
  // Destroys `names`, printing each one gone; the first failure decides the exit code.
  auto destroy_each = [&](Stub* stub, const std::vector<std::string>& names, bool force, bool verbose) {
    for (const auto& n : names) {
      grpc::ClientContext ctx;
      v1::DestroyRequest req;
      req.set_name(n);
      req.set_force(force);
      v1::DestroyResponse resp;
      Status s = FromGrpc(stub->Destroy(Deadline(&ctx, 120), req, &resp));
      if (!s.ok()) {
        int rc = Fail(s);
        if (code == kOk) code = rc;
      } else if (verbose) {
        std::printf("destroyed %s\n", n.c_str());
      }
    }
  };
  // Names of the caller's workspaces, optionally only stopped or crashed ones.
  auto names_of = [&](Stub* stub, bool only_off, std::vector<std::string>* out) {
    grpc::ClientContext ctx;
    v1::ListResponse resp;
    Status s = FromGrpc(stub->List(Deadline(&ctx, 30), v1::ListRequest(), &resp));
    if (!s.ok()) return s;
    for (const auto& w : resp.workspaces()) {
      if (!only_off || w.state() == "stopped" || w.state() == "crashed") out->push_back(w.name());
    }
    return Status::Ok();
  };
  destroy_cmd->callback([&] {
    if (destroy_all == !destroy_name.empty()) {
      return void(code = Fail("give a workspace NAME, or --all", kUsage));
    }
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    std::vector<std::string> names = {destroy_name};
    if (destroy_all) {
      names.clear();
      if (Status s = names_of(stub, false, &names); !s.ok()) return void(code = Fail(s));
    }
    destroy_each(stub, names, destroy_force, destroy_all);
  });

  auto* prune_cmd = app.add_subcommand("prune", "Destroy your stopped and crashed workspaces");
  prune_cmd->callback([&] {
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    std::vector<std::string> names;
    if (Status s = names_of(stub, true, &names); !s.ok()) return void(code = Fail(s));
    destroy_each(stub, names, false, true);
  });

  // allow
  std::string allow_name;
  std::vector<std::string> allow_add, allow_remove;
  auto* allow_cmd = app.add_subcommand("allow", "Change a workspace's egress allowlist (at once, and kept)");
  allow_cmd->add_option("name", allow_name, "Workspace name")->required();
  allow_cmd->add_option("hosts", allow_add, "HOST[:PORT] or *.DOMAIN to allow");
  allow_cmd->add_option("--remove", allow_remove, "Remove HOST[:PORT] from the allowlist")->allow_extra_args(false);
  allow_cmd->callback([&] {
    if (allow_add.empty() && allow_remove.empty()) {
      return void(code = Fail("give HOST[:PORT] to allow, or --remove HOST[:PORT]", kUsage));
    }
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::AllowRequest req;
    req.set_name(allow_name);
    for (const auto& a : allow_add) req.add_add(a);
    for (const auto& r : allow_remove) req.add_remove(r);
    v1::AllowResponse resp;
    Status s = FromGrpc(stub->Allow(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(code = Fail(s));
  });

  // port
  std::string port_name, port_spec;
  std::vector<uint32_t> port_remove;
  bool port_list = false;
  auto* port_cmd = app.add_subcommand("port", "Publish a guest port on the host's 127.0.0.1, or list/remove them");
  port_cmd->add_option("name", port_name, "Workspace name")->required();
  port_cmd->add_option("spec", port_spec, "[HOST_PORT:]GUEST_PORT to publish");
  port_cmd->add_flag("--list", port_list, "List the published ports");
  port_cmd->add_option("--remove", port_remove, "Stop publishing this host port")->allow_extra_args(false);
  port_cmd->callback([&] {
    v1::PortRequest req;
    req.set_name(port_name);
    if (!port_spec.empty()) {
      auto f = ParsePortSpec(port_spec);
      if (!f.ok()) return void(code = Fail(f.status()));
      *req.add_add() = f.value();
    }
    for (auto r : port_remove) req.add_remove(r);
    if (port_spec.empty() && port_remove.empty() && !port_list) {
      return void(code = Fail("give [HOST_PORT:]GUEST_PORT, --list or --remove HOST_PORT", kUsage));
    }
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::PortResponse resp;
    Status s = FromGrpc(stub->Port(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(code = Fail(s));
    auto print = [&](const v1::PortForward& f) {
      std::printf("127.0.0.1:%u -> %s:%u\n", f.host_port(), port_name.c_str(), f.guest_port());
    };
    if (port_list) {
      for (const auto& f : resp.ports()) print(f);
    } else if (!port_spec.empty() && resp.ports_size() > 0) {
      print(resp.ports(resp.ports_size() - 1));  // the one just added
    }
  });

  // audit
  std::string audit_name;
  bool audit_json = false, audit_follow = false;
  auto* audit_cmd = app.add_subcommand("audit", "Show every egress attempt of a workspace");
  audit_cmd->add_option("name", audit_name, "Workspace name")->required();
  audit_cmd->add_flag("--json", audit_json, "JSON lines (fields in docs/cli.md)");
  audit_cmd->add_flag("-f,--follow", audit_follow, "Keep printing new attempts");
  audit_cmd->callback([&] {
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::AuditRequest req;
    req.set_name(audit_name);
    req.set_follow(audit_follow);
    auto reader = stub->Audit(&ctx, req);
    v1::LogsResponse chunk;
    std::string pending;
    if (!audit_json) std::printf("%-24s %-6s %-40s %-16s %s\n", "TIME", "VERDICT", "TARGET", "ADDRESS", "REASON");
    while (reader->Read(&chunk)) {
      if (audit_json) {
        if (!WriteAll(1, chunk.data().data(), chunk.data().size())) ctx.TryCancel();
        continue;
      }
      pending += chunk.data();
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        auto field = [&](const std::string& k) {
          auto at = line.find("\"" + k + "\":");
          if (at == std::string::npos) return std::string();
          at += k.size() + 3;
          if (line[at] == '"') return line.substr(at + 1, line.find('"', at + 1) - at - 1);
          return line.substr(at, line.find_first_of(",}", at) - at);
        };
        std::string target = field("target") + ":" + field("port");
        std::printf("%-24s %-6s %-40s %-16s %s\n", field("time").c_str(), field("decision").c_str(),
                    target.c_str(), field("address").c_str(), field("reason").c_str());
        std::fflush(stdout);
      }
    }
    Status s = FromGrpc(reader->Finish());
    if (!s.ok()) code = Fail(s);
  });

  // logs
  std::string logs_name;
  bool logs_follow = false;
  auto* logs_cmd = app.add_subcommand("logs", "Print the guest console log");
  logs_cmd->add_option("name", logs_name, "Workspace name")->required();
  logs_cmd->add_flag("-f,--follow", logs_follow, "Keep printing new output");
  logs_cmd->callback([&] {
    Stub* stub = c.Connect(false, &code);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::LogsRequest req;
    req.set_name(logs_name);
    req.set_follow(logs_follow);
    auto reader = stub->Logs(&ctx, req);
    v1::LogsResponse chunk;
    while (reader->Read(&chunk)) {
      if (!WriteAll(1, chunk.data().data(), chunk.data().size())) ctx.TryCancel();
    }
    Status s = FromGrpc(reader->Finish());
    if (!s.ok()) code = Fail(s);
  });

  // init
  auto* init_cmd = app.add_subcommand("init", "Write a commented .workspace.toml project file here");
  init_cmd->callback([&] {
    const auto cwd = std::filesystem::current_path();
    const std::string path = (cwd / kProjectFileName).string();
    if (std::filesystem::exists(path)) {
      return void(code = Fail(path + " already exists; edit it, or remove it first", kFailure));
    }
    std::ofstream out(path);
    out << ProjectFileTemplate(NameFromFolder(cwd.filename().string()));
    if (!out) return void(code = Fail("cannot write " + path, kFailure));
    std::printf("%s\n", path.c_str());
  });

  // doctor
  auto* doctor_cmd = app.add_subcommand("doctor", "Check this host and say what to fix");
  doctor_cmd->callback([&] { code = RunDoctor(c.global); });

  // daemon
  auto* daemon_cmd = app.add_subcommand("daemon", "Run the daemon (as root) in the foreground");
  daemon_cmd->callback([&] {
    code = controller::RunDaemon({c.global.state_dir, c.global.connect_uri,
                                  c.global.accel.empty() ? "auto" : c.global.accel});
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      app.exit(e);
      return kOk;
    }
    std::string cmd = CommandOf(argc, argv);
    std::string hint = cmd.empty() ? "workspace --help" : "workspace " + cmd + " --help";
    if (cmd == "exec") hint = "usage: workspace exec [OPTIONS] NAME -- COMMAND [ARG...]";
    return Fail(std::string(e.what()) + " (see " + hint + ")", IsExecLike(cmd) ? kExecFailure : kUsage);
  }
  return code;
}

}  // namespace ws::cli
