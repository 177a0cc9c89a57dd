#include "host/cli/changes_command.h"

#include <cstdio>

#include "host/common/grpc_status.h"
#include "host/common/printable.h"

namespace ws::cli {

Result<v1::ChangesResponse> FetchChanges(Stub* stub, const std::string& name) {
  grpc::ClientContext ctx;
  v1::ChangesRequest req;
  req.set_name(name);
  v1::ChangesResponse resp;
  Status s = FromGrpc(stub->Changes(Deadline(&ctx, 30), req, &resp));
  if (!s.ok()) return s;
  return resp;
}

void PrintChangesSummary(const std::string& name, const Result<v1::ChangesResponse>& changes) {
  if (!changes.ok() || changes->changes().empty()) return;
  std::string list;
  int shown = 0;
  for (const auto& ch : changes.value().changes()) {
    if (shown++ == 5) {
      list += ", ...";
      break;
    }
    list += (list.empty() ? "" : ", ") + Printable(ch.path());
  }
  std::fprintf(stderr,
               "workspace: the guest of '%s' created or changed %d file%s your tools run: %s "
               "(read %s before you run %s; workspace changes %s)\n",
               name.c_str(), changes.value().changes_size(),
               changes.value().changes_size() == 1 ? "" : "s", list.c_str(),
               changes.value().changes_size() == 1 ? "it" : "them",
               changes.value().changes_size() == 1 ? "it" : "them", name.c_str());
}

ChangesCommand::ChangesCommand(CLI::App& app, Context& context) : c(context) {
  auto* cmd = app.add_subcommand(
      "changes",
      "List files in the shares that host tools run (package.json, Makefile, *.sh, "
      "CI workflows, CLAUDE.md, ...) which the guest created or changed since the "
      "workspace started");
  cmd->add_option("name", name, kNameHelp);
  cmd->add_flag("--json", json, "JSON output (fields in docs/cli.md)");
  cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &name)) return;
    auto fetched = FetchChanges(stub, name);
    if (!fetched.ok()) return void(c.code = Fail(fetched.status()));
    const v1::ChangesResponse& resp = fetched.value();
    if (json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    for (const auto& ch : resp.changes()) {
      std::string note = !ch.exists() ? " (gone now)" : ch.executable() ? " (executable)" : "";
      std::printf("%-8s %s/%s%s\n", ch.kind().c_str(), ch.host_path().c_str(),
                  Printable(ch.path()).c_str(), note.c_str());
    }
    if (resp.truncated())
      std::printf("(more changes than were recorded; look at the folder itself)\n");
  });
}

}  // namespace ws::cli
