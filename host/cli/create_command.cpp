#include "host/cli/create_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/cli/default_allow.h"
#include "host/cli/doctor.h"
#include "host/cli/exit_codes.h"
#include "host/cli/image_commands.h"
#include "host/cli/project_file.h"
#include "host/cli/project_trust.h"
#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/printable.h"
#include "host/common/subprocess.h"
#include "host/common/unique_fd.h"
#include "host/github/github_http.h"
#include "host/shares/protected_paths.h"
#include "host/shares/share_spec.h"

namespace ws::cli {
namespace {

constexpr char kDefaultImage[] = "debian";

// The nearest folder at or above `dir` holding a .git: the top of the
// repository whose worktree holds it, or "" for none.
std::string RepoTop(std::string dir) {
  for (;;) {
    struct stat st;
    if (lstat((dir + "/.git").c_str(), &st) == 0) return dir;
    auto slash = dir.find_last_of('/');
    if (slash == std::string::npos || dir.size() <= 1) return "";
    dir = slash == 0 ? "/" : dir.substr(0, slash);
    if (dir == "/") return lstat("/.git", &st) == 0 ? "/" : "";
  }
}

// `git config ARGS` as the calling user for the repository holding `dir`
// (its own config wins over the user's), run from / (never from a shared
// folder) with the git dir named; its lines, none when git or the key is missing.
std::vector<std::string> GitConfig(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", "/"};
  if (const std::string top = RepoTop(dir); !top.empty())
    argv.push_back("--git-dir=" + top + "/.git");
  argv.push_back("config");
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = RunCommand(argv);
  std::vector<std::string> lines;
  if (!out.ok()) return lines;
  std::istringstream in(out.value());
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// The user's git name and email, and nothing else of git's config (no
// credentials, no helpers, no URLs).
void GitIdentity(const std::string& dir, std::string* name, std::string* email) {
  auto one = [&](const char* key) {
    auto lines = GitConfig(dir, {"--get", key});
    return lines.size() == 1 ? lines[0] : "";
  };
  *name = one("user.name");
  *email = one("user.email");
}

// The folders inside `dir` that git's core.hooksPath names (in any config
// git reads, includes and the user's own too), relative to `dir`: the guest
// must not fill them. A relative value is taken from the repository's top
// (from `dir` when it is in none: it would be, once one is made there).
std::vector<std::string> HooksFoldersIn(const std::string& dir) {
  std::vector<std::string> out;
  std::string top = RepoTop(dir);
  if (top.empty()) top = dir;
  for (const auto& v : GitConfig(dir, {"--path", "--get-all", "core.hooksPath"})) {
    const std::string abs = shares::NormalizeAbsolute(v[0] == '/' ? v : top + "/" + v);
    if (abs != dir && shares::PathWithin(abs, dir)) {
      const std::string rel = abs.substr(dir.size() + (dir == "/" ? 0 : 1));
      if (shares::ValidateWritablePath(rel).ok()) out.push_back(rel);
    }
  }
  return out;
}

}  // namespace

CreateCommand::CreateCommand(CLI::App& app, Context& context) : c(context) {
  // create
  create_cmd = app.add_subcommand("create", "Create and boot a workspace");
  create_cmd->add_option("name", create_name,
                         "Workspace name (default: the current folder's name)");
  create_cmd
      ->add_option("--image", *create.mutable_image(),
                   "Guest image: debian (default; built on first use) or minimal")
      ->envname("WORKSPACE_IMAGE");
  create_cmd
      ->add_option(
          "--disk",
          [&](const CLI::results_t& r) {
            create.set_disk_gib(std::stoul(r[0]));
            return true;
          },
          "Root disk size in GiB, thin (debian; default 20)")
      ->type_name("GIB")
      ->check(CLI::Range(1, 4096));
  create_cmd
      ->add_option(
          "--cpus",
          [&](const CLI::results_t& r) {
            create.set_cpus(std::stoul(r[0]));
            return true;
          },
          "Virtual CPUs (default: the image's, 2 for debian, 1 for minimal)")
      ->type_name("N")
      ->check(CLI::Range(1, 512));
  create_cmd
      ->add_option(
          "--memory",
          [&](const CLI::results_t& r) {
            create.set_memory_mib(std::stoul(r[0]));
            return true;
          },
          "Guest memory in MiB (default: the image's, 2048 for debian, 512 for minimal)")
      ->type_name("MIB")
      ->check(CLI::Range(128, 1 << 20));
  create_cmd
      ->add_option(
          "--secret",
          [&](const CLI::results_t& r) {
            for (const auto& v : r) create.add_secrets(v);
            return true;
          },
          "Bind a secret of yours (workspace secret add) from the start (repeatable)")
      ->type_name("NAME")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1)
      ->allow_extra_args(false);
  create_cmd
      ->add_option("--cpu-model", *create.mutable_cpu_model(),
                   "Guest CPU: auto (default: max under TCG, host under KVM), max, host, or a QEMU "
                   "model such as Haswell")
      ->type_name("MODEL");
  create_cmd
      ->add_option("--share", share_specs,
                   "Share a host folder: HOST_PATH[:GUEST_PATH][:ro] (repeatable; default: the "
                   "current folder at /workspace)")
      ->allow_extra_args(false);
  create_cmd->add_flag("--no-share", no_share, "Share no host folder");
  create_cmd
      ->add_option(
          "--show", show_files,
          "Do not hide this secret (.env, packages/app/.env, ...; relative to the share's top)")
      ->allow_extra_args(false);
  create_cmd
      ->add_option(
          "--writable", writable_paths,
          "Let the guest write this protected path of read-write shares all the same (.vscode, "
          ".claude, ...; relative to the share's top): your tools then read what the guest wrote")
      ->type_name("PATH")
      ->allow_extra_args(false);
  create_cmd->add_flag("--share-dangerous", share_dangerous, "Allow sharing / or your home folder");
  create_cmd
      ->add_option("--net", net_mode, "Network: allowlist (default), none, or open (unfiltered)")
      ->check(CLI::IsMember({"allowlist", "none", "open"}));
  create_cmd
      ->add_option("--allow", allow_specs, "Allow egress to HOST[:PORT] or *.DOMAIN (repeatable)")
      ->allow_extra_args(false);
  create_cmd
      ->add_option(
          "--publish", publish_specs,
          "Publish a guest port on the host's 127.0.0.1: [HOST_PORT:]GUEST_PORT (repeatable)")
      ->allow_extra_args(false);
  create_cmd->add_flag("--no-default-allow", no_default_allow,
                       "Start from an empty allowlist (no registries, no AI APIs)");
  create_cmd->add_flag("--no-decoys", no_decoys,
                       "Put no decoy credentials in the guest's home (they raise alerts when "
                       "something sends them; docs/cli.md#alerts)");
  create_cmd->add_flag("--cold-boot", cold_boot,
                       "Boot the guest's kernel even when its image has a template to restore "
                       "(docs/cli.md#templates)");
  create_cmd->add_flag(
      "--verbose", verbose,
      "Say how the guest came up: restored from a template, or booted cold and why");
  create_cmd->add_flag("--trust", trust_project,
                       "Trust this folder's .workspace.toml as it is now (see workspace trust)");
  create_cmd->add_flag("--no-project-file", no_project_file,
                       "Ignore this folder's .workspace.toml");
  create_cmd->callback([&] {
    const std::string cwd = std::filesystem::current_path().string();
    // The project file gives what flags do not, once the user trusted it.
    if (trust_project && no_project_file) {
      return void(c.code = Fail("--trust and --no-project-file exclude each other", kUsage));
    }
    Result<std::optional<ProjectFile>> project = std::optional<ProjectFile>();
    if (!no_project_file) project = LoadTrustedProjectFile(cwd, trust_project, CanAsk());
    if (!project.ok()) return void(c.code = Fail(project.status()));
    if (project->has_value()) {
      const ProjectFile& f = **project;
      if (create_name.empty() && f.name) create_name = *f.name;
      if (!create_cmd->count("--image") && f.image) create.set_image(*f.image);
      if (!create_cmd->count("--cpus") && f.cpus) create.set_cpus(*f.cpus);
      if (!create_cmd->count("--memory") && f.memory_mib) create.set_memory_mib(*f.memory_mib);
      if (!create_cmd->count("--disk") && f.disk_gib) create.set_disk_gib(*f.disk_gib);
      if (!create_cmd->count("--cpu-model") && f.cpu_model) create.set_cpu_model(*f.cpu_model);
      if (!create_cmd->count("--net") && f.net) net_mode = *f.net;
      if (!create_cmd->count("--no-default-allow") && f.default_allow)
        no_default_allow = !*f.default_allow;
      allow_specs.insert(allow_specs.begin(), f.allow.begin(), f.allow.end());
      publish_specs.insert(publish_specs.begin(), f.publish.begin(), f.publish.end());
      writable_paths.insert(writable_paths.begin(), f.writable.begin(), f.writable.end());
      for (const auto& p : f.github_push) create.mutable_github()->add_push(p);
      for (const auto& a : f.github_api_writes) create.mutable_github()->add_api_write(a);
      for (const auto& name : f.secrets) {  // as --secret (the flags' names too)
        const auto& have = create.secrets();
        if (std::find(have.begin(), have.end(), name) == have.end()) create.add_secrets(name);
      }
      if (share_specs.empty() && !no_share && f.shares) {
        if (f.shares->empty()) no_share = true;
        for (const auto& sh : *f.shares) {
          share_specs.push_back(sh.path + (sh.guest.empty() ? "" : ":" + sh.guest) +
                                (sh.read_only ? ":ro" : ""));
        }
      }
      if (net_mode != "allowlist" && net_mode != "none" && net_mode != "open") {
        return void(
            c.code = Fail(std::string(kProjectFileName) + ": net must be allowlist, none or open",
                          kUsage));
      }
    }
    if (create_name.empty())
      create_name = NameFromFolder(std::filesystem::current_path().filename().string());
    Status valid = ValidateName(create_name);
    if (!valid.ok()) return void(c.code = Fail(valid));
    create.set_name(create_name);
    if (no_share && !share_specs.empty())
      return void(c.code = Fail("--share and --no-share exclude each other", kUsage));
    if (!no_share && share_specs.empty()) {
      const char* home = getenv("HOME");
      if ((cwd == "/" || (home && std::filesystem::path(home) == std::filesystem::path(cwd))) &&
          !share_dangerous) {
        return void(c.code = Fail("create shares the current folder, and " + cwd +
                                      " is too much to share; run it in a project folder, or pass "
                                      "--share DIR or --no-share",
                                  kUsage));
      }
      share_specs.push_back(cwd + ":" + shares::kDefaultGuestPath);
    }
    for (const auto& raw : share_specs) {
      std::string spec = raw.empty() || raw[0] == '/' ? raw : cwd + "/" + raw;
      auto parsed = shares::ParseShareSpec(spec);
      if (!parsed.ok()) return void(c.code = Fail(parsed.status()));
      auto* sh = create.add_shares();
      sh->set_host_path(parsed->host_path);
      sh->set_guest_path(parsed->guest_path);
      sh->set_read_only(parsed->read_only);
      for (const auto& f : show_files) sh->add_show(f);
      if (!parsed->read_only) {
        for (const auto& w : writable_paths) {
          if (Status v = shares::ValidateWritablePath(w); !v.ok())
            return void(c.code = Fail(v.message(), kUsage));
          sh->add_writable(w);
        }
        for (const auto& rel : HooksFoldersIn(parsed->host_path)) sh->add_protect(rel);
      }
    }
    create.set_allow_dangerous_shares(share_dangerous);
    create.set_no_decoys(no_decoys);
    create.set_cold_boot(cold_boot);
    create.set_net(net_mode);
    for (const auto& spec : publish_specs) {
      auto f = ParsePortSpec(spec);
      if (!f.ok()) return void(c.code = Fail(f.status()));
      *create.add_publish() = f.value();
    }
    if (net_mode != "allowlist" && !allow_specs.empty()) {
      return void(c.code = Fail("--allow needs --net allowlist", kUsage));
    }
    if (net_mode == "open") {
      std::fprintf(stderr,
                   "workspace: warning: --net open gives the workspace a network interface with "
                   "unfiltered access (the host's own loopback included, via 10.0.2.2); nothing is "
                   "checked or audited\n");
    }
    std::vector<net::AllowEntry> allow;
    if (net_mode == "allowlist" && !no_default_allow) allow = DefaultAllowlist();
    for (const auto& spec : allow_specs) {
      if (spec == "github") {  // the GitHub rule set: its hosts on 443
        for (const auto& host : github::GithubHosts()) {
          allow.push_back(net::ParseAllowEntry(host + ":443", "github").value());
        }
        continue;
      }
      auto e = net::ParseAllowEntry(spec, "user");
      if (!e.ok()) return void(c.code = Fail(e.status()));
      allow.push_back(e.value());
    }
    const bool github_on =
        std::find(allow_specs.begin(), allow_specs.end(), "github") != allow_specs.end();
    if ((create.github().push_size() || create.github().api_write_size()) && !github_on) {
      return void(
          c.code =
              Fail(std::string(kProjectFileName) + ": [github] needs \"github\" in allow", kUsage));
    }
    for (const auto& a : allow) {
      auto* r = create.add_allow();
      r->set_host(a.host);
      r->set_port(a.port);
      r->set_source(a.source);
    }
    if (create.image().empty()) create.set_image(kDefaultImage);
    GitIdentity(cwd, create.mutable_git_name(), create.mutable_git_email());
    Stub* stub = c.Connect(false);
    if (!stub) return;
    std::optional<ImageRecipeSpec> recipe;
    if (project->has_value() && (*project)->images.count(create.image()))
      recipe = (*project)->images.at(create.image());
    if (Status s = EnsureImage(stub, create.image(), recipe); !s.ok())
      return void(c.code = Fail(s));
    if (Tty()) std::fprintf(stderr, "Creating workspace '%s'...\n", create_name.c_str());
    auto t0 = std::chrono::steady_clock::now();
    grpc::ClientContext ctx;
    v1::CreateResponse resp;
    Status s = FromGrpc(stub->Create(Deadline(&ctx, 300), create, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (verbose) PrintBoot(create_name, resp.boot());
    for (const auto& sh : resp.workspace().shares()) {
      for (const auto& h : sh.hidden()) {
        std::fprintf(stderr, "Hidden from the guest: %s/%s (show it with --show %s)\n",
                     sh.host_path().c_str(), Printable(h).c_str(), Printable(h).c_str());
      }
      for (const auto& h : sh.stripped()) {
        std::fprintf(stderr, "Given to the guest without its credentials: %s/%s\n",
                     sh.host_path().c_str(), Printable(h).c_str());
      }
    }
    if (Tty()) {
      std::string disk = resp.workspace().disk_gib()
                             ? ", " + std::to_string(resp.workspace().disk_gib()) + " GiB disk"
                             : "";
      std::fprintf(stderr,
                   "Workspace '%s' is running (%s image, %u CPU, %u MiB%s, %.1f s%s).\n"
                   "Run a command: workspace exec %s -- uname -a\n",
                   create_name.c_str(), resp.workspace().image().c_str(), resp.workspace().cpus(),
                   resp.workspace().memory_mib(), disk.c_str(), secs,
                   resp.boot().mode() == "template" ? ", from its template" : "",
                   create_name.c_str());
    }
    std::printf("%s\n", create_name.c_str());
  });
}

}  // namespace ws::cli
