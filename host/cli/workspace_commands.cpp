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

void PrintTable(const std::vector<const v1::Workspace*>& rows) {
  std::printf("%-24s %-9s %-10s %4s %8s  %s\n", "NAME", "STATE", "IMAGE", "CPUS", "MEMORY", "CREATED");
  for (const auto* w : rows) {
    std::printf("%-24s %-9s %-10s %4u %5uMiB  %s\n", w->name().c_str(), w->state().c_str(),
                w->image().c_str(), w->cpus(), w->memory_mib(), w->created_at().c_str());
  }
}

void PrintDetails(const v1::Workspace& w) {
  std::printf("Name:        %s\nState:       %s\nImage:       %s\nCPUs:        %u\n"
              "Memory:      %u MiB\nAccelerator: %s\nCPU model:   %s\nOwner uid:   %u\nCreated:     %s\n"
              "UUID:        %s\nConsole log: %s\n",
              w.name().c_str(), w.state().c_str(), w.image().c_str(), w.cpus(), w.memory_mib(),
              w.accel().c_str(), w.cpu_model().c_str(), w.owner_uid(), w.created_at().c_str(), w.uuid().c_str(),
              w.console_log().c_str());
  if (w.disk_gib()) std::printf("Disk:        %u GiB (thin overlay on the image)\n", w.disk_gib());
  std::printf("Shares:%s\n", w.shares().empty() ? "      none" : "");
  auto join = [](const auto& list) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("none") : s;
  };
  for (const auto& sh : w.shares()) {
    std::printf("  %s -> %s (%s)\n    hidden: %s\n    without credentials: %s\n    shown: %s\n",
                sh.host_path().c_str(), sh.guest_path().c_str(), sh.mode().c_str(), Printable(join(sh.hidden())).c_str(),
                Printable(join(sh.stripped())).c_str(), join(sh.shown()).c_str());
    if (sh.secret_scan_cut()) {
      std::printf("    the secret scan stopped at its bound (1,000,000 entries or 64 levels): files past it "
                  "were not looked at\n");
    }
    if (sh.mode() == "rw") {
      std::printf("    protected (the guest cannot create, change or delete them; in every folder outside "
                  "node_modules, hooks folders from the top): %s; .git and HEAD everywhere\n"
                  "    writable all the same (--writable): %s\n",
                  join(sh.protected_paths()).c_str(), join(sh.writable()).c_str());
      std::printf("    refused writes: %u\n", sh.refused());
      for (const auto& r : sh.recent_refusals()) {
        std::printf("      %s %s %s\n", r.time().c_str(), r.op().c_str(), Printable(r.path()).c_str());
      }
    }
    if (sh.git() == "guest-git-dir") {
      std::printf("    git: the guest commits to a git directory of its own (host .git read-only); "
                  "take its commits with: workspace git fetch %s\n", w.name().c_str());
    } else if (sh.git() == "read-only") {
      std::printf("    git: the guest sees .git read-only\n");
    }
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

WorkspaceCommands::WorkspaceCommands(CLI::App& app, Context& context) : c(context) {
  // list
  list_cmd = app.add_subcommand("list", "List your workspaces");
  list_cmd->alias("ls");
  list_cmd->add_flag("--json", list_json, "JSON output (fields in docs/cli.md)");
  list_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::ListResponse resp;
    Status s = FromGrpc(stub->List(Deadline(&ctx, 30), v1::ListRequest(), &resp));
    if (!s.ok()) return void(c.code = Fail(s));
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
  inspect_cmd->add_option("name", inspect_name, "Workspace name")->required();
  inspect_cmd->add_flag("--json", inspect_json, "JSON output (fields in docs/cli.md)");
  inspect_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
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

  // start / stop / destroy
  start_cmd = app.add_subcommand("start", "Boot a stopped workspace");
  start_cmd->add_option("name", start_name, "Workspace name")->required();
  start_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::StartRequest req;
    req.set_name(start_name);
    v1::StartResponse resp;
    Status s = FromGrpc(stub->Start(Deadline(&ctx, 300), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (Tty()) std::fprintf(stderr, "Workspace '%s' is running.\n", start_name.c_str());
  });
  stop_cmd = app.add_subcommand("stop", "Power a workspace off (forced after 10 s)");
  stop_cmd->add_option("name", stop_name, "Workspace name")->required();
  stop_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::StopRequest req;
    req.set_name(stop_name);
    v1::StopResponse resp;
    Status s = FromGrpc(stub->Stop(Deadline(&ctx, 120), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    PrintChangesSummary(stop_name, FetchChanges(stub, stop_name));
    if (resp.forced()) {
      std::fprintf(stderr, "workspace: '%s' did not power off within 10 s and was forced off\n",
                   stop_name.c_str());
    }
  });
  destroy_cmd = app.add_subcommand("destroy", "Delete a workspace (or --all of yours): its VM and every file of it");
  destroy_cmd->alias("rm");
  destroy_cmd->add_option("name", destroy_name, "Workspace name");
  destroy_cmd->add_flag("-f,--force", destroy_force, "Destroy even when running");
  destroy_cmd->add_flag("--all", destroy_all, "Destroy every workspace you can see (running ones need --force)");
  // Destroys `names`, printing each one gone; the first failure decides the exit code.
  destroy_each = [this](Stub* stub, const std::vector<std::string>& names, bool force, bool verbose) {
    for (const auto& n : names) {
      auto changes = FetchChanges(stub, n);  // before its records go with it
      grpc::ClientContext ctx;
      v1::DestroyRequest req;
      req.set_name(n);
      req.set_force(force);
      v1::DestroyResponse resp;
      Status s = FromGrpc(stub->Destroy(Deadline(&ctx, 120), req, &resp));
      if (!s.ok()) {
        int rc = Fail(s);
        if (c.code == kOk) c.code = rc;
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
      if (!only_off || w.state() == "stopped" || w.state() == "crashed") out->push_back(w.name());
    }
    return Status::Ok();
  };
  destroy_cmd->callback([&] {
    if (destroy_all == !destroy_name.empty()) {
      return void(c.code = Fail("give a workspace NAME, or --all", kUsage));
    }
    Stub* stub = c.Connect(false);
    if (!stub) return;
    std::vector<std::string> names = {destroy_name};
    if (destroy_all) {
      names.clear();
      if (Status s = names_of(stub, false, &names); !s.ok()) return void(c.code = Fail(s));
    }
    destroy_each(stub, names, destroy_force, destroy_all);
  });

  prune_cmd = app.add_subcommand("prune", "Destroy your stopped and crashed workspaces");
  prune_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    std::vector<std::string> names;
    if (Status s = names_of(stub, true, &names); !s.ok()) return void(c.code = Fail(s));
    destroy_each(stub, names, false, true);
  });

  reset_cmd = app.add_subcommand("reset", "Throw a workspace's root disk away and boot a fresh one "
                                          "(same name, shares, network policy, resources)");
  reset_cmd->add_option("name", reset_name, "Workspace name")->required();
  reset_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    if (Tty()) std::fprintf(stderr, "Resetting workspace '%s'...\n", reset_name.c_str());
    auto changes = FetchChanges(stub, reset_name);  // a fresh boot starts them anew
    grpc::ClientContext ctx;
    v1::ResetRequest req;
    req.set_name(reset_name);
    v1::ResetResponse resp;
    Status s = FromGrpc(stub->Reset(Deadline(&ctx, 300), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    const auto& w = resp.workspace();
    if (w.disk_gib()) {
      std::printf("reset %s: discarded %.1f MiB of changes to its root disk; booted fresh from image %s; "
                  "shared folders untouched\n",
                  reset_name.c_str(), resp.discarded_bytes() / double(1 << 20), w.image().c_str());
    } else {
      std::printf("reset %s: rebooted fresh from image %s (it keeps nothing between boots); shared folders "
                  "untouched\n", reset_name.c_str(), w.image().c_str());
    }
    PrintChangesSummary(reset_name, changes);
  });

  // logs
  logs_cmd = app.add_subcommand("logs", "Print the guest console log");
  logs_cmd->add_option("name", logs_name, "Workspace name")->required();
  logs_cmd->add_flag("-f,--follow", logs_follow, "Keep printing new output");
  logs_cmd->callback([&] {
    Stub* stub = c.Connect(false);
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
    if (!s.ok()) c.code = Fail(s);
  });
}

}  // namespace ws::cli
