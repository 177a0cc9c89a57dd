#include "host/cli/workspace_commands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "host/cli/changes_command.h"
#include "host/cli/default_allow.h"
#include "host/cli/doctor.h"
#include "host/cli/exit_codes.h"
#include "host/cli/project_file.h"
#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/printable.h"
#include "host/common/unique_fd.h"
#include "host/shares/share_spec.h"

namespace ws::cli {
namespace {

// Published ports that did not open again: one stderr line each, with what to do.
void WarnPortProblems(const v1::Workspace& w) {
  for (const auto& p : w.port_problems()) {
    const std::string host_port = p.substr(0, p.find(' '));
    std::fprintf(
        stderr,
        "workspace: '%s': port %s was not published again; free the host port and run "
        "workspace stop %s && workspace start %s, or move it: workspace port %s --remove %s\n",
        w.name().c_str(), Printable(p).c_str(), w.name().c_str(), w.name().c_str(),
        w.name().c_str(), host_port.c_str());
  }
}

// A workspace's tripwires tripped: said on stderr, whatever else is printed.
void PrintUnseenAlerts(const std::vector<const v1::Workspace*>& rows) {
  for (const auto* w : rows) {
    if (w->unseen_alerts() == 0) continue;
    std::fprintf(stderr,
                 "workspace: ALERT: '%s' has %u new alert%s: something read a decoy credential "
                 "and tried to send it (workspace alerts %s)\n",
                 w->name().c_str(), w->unseen_alerts(), w->unseen_alerts() == 1 ? "" : "s",
                 w->name().c_str());
  }
}

void PrintTable(const std::vector<const v1::Workspace*>& rows) {
  std::printf("%-24s %-9s %-10s %4s %8s  %s\n", "NAME", "STATE", "IMAGE", "CPUS", "MEMORY",
              "CREATED");
  for (const auto* w : rows) {
    std::printf("%-24s %-9s %-10s %4u %5uMiB  %s\n", w->name().c_str(), w->state().c_str(),
                w->image().c_str(), w->cpus(), w->memory_mib(), w->created_at().c_str());
  }
  PrintUnseenAlerts(rows);
}

void PrintDetails(const v1::Workspace& w) {
  std::printf(
      "Name:        %s\nState:       %s\nImage:       %s\nCPUs:        %u\n"
      "Memory:      %u MiB\nAccelerator: %s\nCPU model:   %s\nOwner uid:   %u\nCreated:     %s\n"
      "UUID:        %s\nConsole log: %s\n",
      w.name().c_str(), w.state().c_str(), w.image().c_str(), w.cpus(), w.memory_mib(),
      w.accel().c_str(), w.cpu_model().c_str(), w.owner_uid(), w.created_at().c_str(),
      w.uuid().c_str(), w.console_log().c_str());
  if (w.disk_gib()) std::printf("Disk:        %u GiB (thin overlay on the image)\n", w.disk_gib());
  std::printf("Shares:%s\n", w.shares().empty() ? "      none" : "");
  auto join = [](const auto& list) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("none") : s;
  };
  for (const auto& sh : w.shares()) {
    std::printf("  %s -> %s (%s)\n    hidden: %s\n    without credentials: %s\n    shown: %s\n",
                sh.host_path().c_str(), sh.guest_path().c_str(), sh.mode().c_str(),
                Printable(join(sh.hidden())).c_str(), Printable(join(sh.stripped())).c_str(),
                join(sh.shown()).c_str());
    if (sh.secret_scan_cut()) {
      std::printf(
          "    the secret scan stopped at its bound (1,000,000 entries or 64 levels): files past "
          "it "
          "were not looked at\n");
    }
    if (sh.mode() == "rw") {
      std::printf(
          "    protected (the guest cannot create, change or delete them; in every folder outside "
          "node_modules, hooks folders from the top): %s; .git and HEAD everywhere\n"
          "    writable all the same (--writable): %s\n",
          join(sh.protected_paths()).c_str(), join(sh.writable()).c_str());
      std::printf("    refused writes: %u\n", sh.refused());
      for (const auto& r : sh.recent_refusals()) {
        std::printf("      %s %s %s\n", r.time().c_str(), r.op().c_str(),
                    Printable(r.path()).c_str());
      }
    }
    if (sh.git() == "guest-git-dir") {
      std::printf(
          "    git: the guest commits to a git directory of its own (host .git read-only); "
          "take its commits with: workspace git fetch %s\n",
          w.name().c_str());
    } else if (sh.git() == "read-only") {
      std::printf("    git: the guest sees .git read-only\n");
    }
  }
  std::printf("Network:     %s\n", w.net().c_str());
  for (const auto& f : w.ports())
    std::printf("  port 127.0.0.1:%u -> guest %u\n", f.host_port(), f.guest_port());
  for (const auto& p : w.port_problems()) std::printf("  port %s (not published)\n", p.c_str());
  for (const auto& a : w.allow()) {
    std::string h = a.host().find(':') != std::string::npos ? "[" + a.host() + "]" : a.host();
    std::string port = a.port() ? ":" + std::to_string(a.port()) : " (80, 443)";
    std::printf("  allow %s%s  from %s%s\n", h.c_str(), port.c_str(), a.source().c_str(),
                a.writes() ? ", writes" : "");
  }
  PrintGithubRules(w.github(), w.allow(), "  ");
  std::printf("Decoys:      %s\n",
              !w.decoys()
                  ? "none (--no-decoys)"
                  : "in the guest's home and variables (~/.npmrc, ~/.aws/credentials, ...)");
  std::printf("Alerts:      %u new (workspace alerts %s)\n", w.unseen_alerts(), w.name().c_str());
  PrintUnseenAlerts({&w});
}

}  // namespace

bool WorkspaceCommands::ResolveNames(Stub* stub, std::vector<std::string>* names,
                                     const std::string& obvious_for) {
  if (!names->empty()) return true;
  std::string one;
  if (!c.Resolve(stub, &one, false, obvious_for)) return false;
  names->push_back(one);
  return true;
}

void WorkspaceCommands::Note(int rc) {
  if (c.code == kOk) c.code = rc;
}

WorkspaceCommands::WorkspaceCommands(CLI::App& app, Context& context) : c(context) {
  // list
  list_cmd = app.add_subcommand("list", "List your workspaces");
  list_cmd->alias("ls");
  list_cmd->add_flag("--json", list_json, "JSON output (fields in docs/cli.md)");
  list_cmd->add_flag("-q,--quiet", list_quiet, "Names only, one per line");
  list_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::ListResponse resp;
    Status s = FromGrpc(stub->List(Deadline(&ctx, 30), v1::ListRequest(), &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (list_quiet) {
      for (const auto& w : resp.workspaces()) std::printf("%s\n", w.name().c_str());
      return;
    }
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
  inspect_cmd = app.add_subcommand("inspect", "Show one workspace in detail");
  inspect_cmd->add_option("name", inspect_name, kNameHelp);
  inspect_cmd->add_flag("--json", inspect_json, "JSON output (fields in docs/cli.md)");
  inspect_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &inspect_name)) return;
    grpc::ClientContext ctx;
    v1::InspectRequest req;
    req.set_name(inspect_name);
    v1::InspectResponse resp;
    Status s = FromGrpc(stub->Inspect(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (inspect_json) {
      std::printf("%s\n", ToJson(resp.workspace()).c_str());
    } else {
      PrintDetails(resp.workspace());
    }
  });

  // start / stop / destroy: each takes several names; none means the current folder's workspace.
  start_cmd = app.add_subcommand("start", "Boot stopped workspaces");
  start_cmd->add_option("name", start_names, kNamesHelp);
  start_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !ResolveNames(stub, &start_names)) return;
    for (const auto& n : start_names) {
      grpc::ClientContext ctx;
      v1::StartRequest req;
      req.set_name(n);
      v1::StartResponse resp;
      Status s = FromGrpc(stub->Start(Deadline(&ctx, 300), req, &resp));
      if (!s.ok()) {
        Note(Fail(s));
        continue;
      }
      if (Tty()) std::fprintf(stderr, "Workspace '%s' is running.\n", n.c_str());
      WarnPortProblems(resp.workspace());
    }
  });
  stop_cmd = app.add_subcommand("stop", "Power workspaces off (forced after 10 s)");
  stop_cmd->add_option("name", stop_names, kNamesHelp);
  stop_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !ResolveNames(stub, &stop_names)) return;
    for (const auto& n : stop_names) {
      grpc::ClientContext ctx;
      v1::StopRequest req;
      req.set_name(n);
      v1::StopResponse resp;
      Status s = FromGrpc(stub->Stop(Deadline(&ctx, 120), req, &resp));
      if (!s.ok()) {
        Note(Fail(s));
        continue;
      }
      PrintChangesSummary(n, FetchChanges(stub, n));
      if (resp.forced()) {
        std::fprintf(stderr, "workspace: '%s' did not power off within 10 s and was forced off\n",
                     n.c_str());
      }
    }
  });
  destroy_cmd = app.add_subcommand("destroy",
                                   "Delete workspaces (or --all: yours; root: everyone's): "
                                   "each VM and every file of it");
  destroy_cmd->alias("rm");
  destroy_cmd->add_option("name", destroy_names, kNamesHelp);
  destroy_cmd->add_flag("-f,--force", destroy_force,
                        "Destroy even when running, or holding commits not fetched");
  destroy_cmd->add_flag("--all", destroy_all,
                        "Destroy every workspace you can see (running ones need --force)");
  // Destroys `names`, printing each one gone; the first failure decides the exit code.
  destroy_each = [this](Stub* stub, const std::vector<std::string>& names, bool force,
                        bool verbose) {
    for (const auto& n : names) {
      auto changes = FetchChanges(stub, n);  // before its records go with it
      grpc::ClientContext ctx;
      v1::DestroyRequest req;
      req.set_name(n);
      req.set_force(force);
      v1::DestroyResponse resp;
      Status s = FromGrpc(stub->Destroy(Deadline(&ctx, 120), req, &resp));
      if (!s.ok()) {
        Note(Fail(s));
        continue;
      }
      if (verbose) std::printf("destroyed %s\n", n.c_str());
      PrintChangesSummary(n, changes);
    }
  };
  // Names of the caller's workspaces, optionally only stopped or crashed ones.
  names_of = [this](Stub* stub, bool only_off, std::vector<std::string>* out) {
    grpc::ClientContext ctx;
    v1::ListResponse resp;
    Status s = FromGrpc(stub->List(Deadline(&ctx, 30), v1::ListRequest(), &resp));
    if (!s.ok()) return s;
    for (const auto& w : resp.workspaces()) {
      if (!only_off || w.state_code() == v1::WORKSPACE_STATE_STOPPED ||
          w.state_code() == v1::WORKSPACE_STATE_CRASHED)
        out->push_back(w.name());
    }
    return Status::Ok();
  };
  destroy_cmd->callback([&] {
    if (destroy_all && !destroy_names.empty())
      return void(c.code = Fail("give NAMEs or --all, not both", kUsage));
    Stub* stub = c.Connect(false);
    if (!stub) return;
    if (destroy_all) {
      if (Status s = names_of(stub, false, &destroy_names); !s.ok()) return void(c.code = Fail(s));
    } else if (!ResolveNames(stub, &destroy_names, "destroy")) {
      return;
    }
    destroy_each(stub, destroy_names, destroy_force, destroy_all || destroy_names.size() > 1);
  });

  prune_cmd = app.add_subcommand(
      "prune", "Destroy your stopped and crashed workspaces (asks first on a terminal)");
  prune_cmd->add_flag("-f,--force", prune_force, "Do not ask");
  prune_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    std::vector<std::string> names;
    if (Status s = names_of(stub, true, &names); !s.ok()) return void(c.code = Fail(s));
    if (names.empty()) return;
    if (!prune_force && isatty(0) && isatty(2)) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      std::fprintf(stderr, "Destroy %zu stopped workspace%s (%s), with every file of %s? [y/N] ",
                   names.size(), names.size() == 1 ? "" : "s", list.c_str(),
                   names.size() == 1 ? "it" : "them");
      char answer[16] = {};
      if (!fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
        std::fprintf(stderr, "Nothing destroyed.\n");
        return void(c.code = kFailure);
      }
    }
    destroy_each(stub, names, false, true);
  });

  reset_cmd = app.add_subcommand("reset",
                                 "Throw a workspace's root disk away and boot a fresh one "
                                 "(same name, shares, network policy, resources)");
  reset_cmd->add_option("name", reset_name, kNameHelp);
  reset_cmd->add_flag("-f,--force", reset_force,
                      "Reset even when the guest has commits not fetched yet");
  reset_cmd->add_flag("--json", reset_json, "JSON output (fields in docs/cli.md)");
  reset_cmd->add_flag("--cold-boot", reset_cold,
                      "Boot the guest's kernel even when its image has a template to restore "
                      "(docs/cli.md#templates)");
  reset_cmd->add_flag(
      "--verbose", reset_verbose,
      "Say how the guest came up: restored from a template, or booted cold and why");
  reset_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &reset_name, false, "reset")) return;
    if (Tty() && !reset_json)
      std::fprintf(stderr, "Resetting workspace '%s'...\n", reset_name.c_str());
    auto changes = FetchChanges(stub, reset_name);  // a fresh boot starts them anew
    grpc::ClientContext ctx;
    v1::ResetRequest req;
    req.set_name(reset_name);
    req.set_force(reset_force);
    req.set_cold_boot(reset_cold);
    v1::ResetResponse resp;
    Status s = FromGrpc(stub->Reset(Deadline(&ctx, 300), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (reset_json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    if (reset_verbose) PrintBoot(reset_name, resp.boot());
    const auto& w = resp.workspace();
    if (w.disk_gib()) {
      std::printf(
          "reset %s: discarded %.1f MiB of changes to its root disk; booted fresh from image %s; "
          "shared folders untouched\n",
          reset_name.c_str(), resp.discarded_bytes() / double(1 << 20), w.image().c_str());
    } else {
      std::printf(
          "reset %s: rebooted fresh from image %s (it keeps nothing between boots); shared folders "
          "untouched\n",
          reset_name.c_str(), w.image().c_str());
    }
    WarnPortProblems(w);
    PrintChangesSummary(reset_name, changes);
  });

  // logs
  logs_cmd = app.add_subcommand(
      "logs", "Print the guest console log, or a detached command's output: logs [NAME] [ID]");
  logs_cmd->add_option("args", logs_args,
                       "[NAME] [ID]: the console of NAME (default: the current folder's "
                       "workspace), or the output of its detached command ID (exec -d)");
  logs_cmd->add_flag("-f,--follow", logs_follow, "Keep printing new output");
  logs_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    // Two words: NAME ID. One: an ID (12 hex digits) unless it names one of your workspaces.
    bool named = logs_args.size() >= 2;
    if (logs_args.size() == 1) {
      const std::string& w = logs_args[0];
      named = w.size() != 12 || w.find_first_not_of("0123456789abcdef") != std::string::npos;
      if (!named) {
        grpc::ClientContext lctx;
        v1::ListResponse list;
        if (FromGrpc(stub->List(Deadline(&lctx, 30), v1::ListRequest(), &list)).ok()) {
          for (const auto& ws : list.workspaces()) {
            named = named || (ws.name() == w && ws.owner_uid() == static_cast<uint32_t>(geteuid()));
          }
        }
      }
    }
    if (!c.SplitName(stub, &logs_args, &logs_name, named)) return;
    if (logs_args.size() > 1) return void(c.code = Fail("give [NAME] [ID]", kUsage));
    grpc::ClientContext ctx;
    v1::LogsRequest req;
    req.set_name(logs_name);
    if (!logs_args.empty()) req.set_exec_id(logs_args[0]);
    req.set_follow(logs_follow);
    auto reader = stub->Logs(&ctx, req);
    v1::LogsResponse chunk;
    while (reader->Read(&chunk)) {
      if (!WriteAll(1, chunk.data().data(), chunk.data().size())) ctx.TryCancel();
    }
    Status s = FromGrpc(reader->Finish());
    if (!s.ok()) c.code = Fail(s);
  });
}

}  // namespace ws::cli
