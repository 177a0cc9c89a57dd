#include "host/cli/tripwire_commands.h"

#include <cstdio>

#include "host/common/grpc_status.h"
#include "host/common/printable.h"

namespace ws::cli {

std::string AlertText(const v1::Alert& a) {
  std::string who;
  if (!a.command().empty()) who += " by " + Printable(a.command());
  if (a.pid() != 0) who += " (pid " + std::to_string(a.pid()) + ")";
  if (!a.exec_id().empty()) who += " in exec " + Printable(a.exec_id());
  std::string line = Printable(a.time()) + "  " + Printable(a.decoy()) + " from " +
                     Printable(a.where()) + " seen in " + Printable(a.channel());
  if (!a.target().empty()) line += " to " + Printable(a.target());
  line += who;
  if (!a.detail().empty()) line += ": " + Printable(a.detail());
  return line;
}

TripwireCommands::TripwireCommands(CLI::App& app, Context& context) : c(context) {
  auto* cmd = app.add_subcommand(
      "alerts",
      "Show what the workspace's tripwires saw: a decoy credential from the guest's home "
      "sent out (refused) or read; marks them seen");
  cmd->add_option("name", name, kNameHelp);
  cmd->add_flag("--json", json, "JSON output (fields in docs/cli.md); marks nothing seen");
  cmd->add_flag("--all", all, "Show the alerts seen before too (default: only new ones)");
  cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &name)) return;
    grpc::ClientContext ctx;
    v1::AlertsRequest req;
    req.set_workspace(name);
    req.set_mark_seen(!json);
    v1::AlertsResponse resp;
    Status s = FromGrpc(stub->Alerts(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    int shown = 0;
    for (const auto& a : resp.alerts()) {
      if (a.seen() && !all) continue;
      std::printf("%s\n", AlertText(a).c_str());
      ++shown;
    }
    if (resp.dropped() > 0) {
      std::printf(
          "(%llu more alerts were raised past the 1000 kept; the audit log names each: "
          "workspace audit %s)\n",
          static_cast<unsigned long long>(resp.dropped()), name.c_str());
    }
    if (shown > 0) {
      std::fprintf(stderr,
                   "workspace: something in '%s' read a decoy credential and tried to send it. "
                   "Treat the workspace as compromised: workspace reset %s throws its disk away\n",
                   name.c_str(), name.c_str());
    } else if (!resp.decoys()) {
      std::fprintf(stderr, "workspace: '%s' has no decoys (created with --no-decoys)\n",
                   name.c_str());
    } else {
      std::fprintf(stderr, "workspace: no %salerts in '%s'\n", all ? "" : "new ", name.c_str());
    }
  });
}

}  // namespace ws::cli
