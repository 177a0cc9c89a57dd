#include "host/cli/tripwire_commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/printable.h"
#include "host/net/audit_log.h"

namespace ws::cli {

std::string AlertText(const v1::Alert& a) {
  std::string who;
  if (!a.command().empty()) who += " by " + Printable(a.command());
  if (a.pid() != 0) who += " (pid " + std::to_string(a.pid()) + ")";
  if (!a.exec_id().empty()) who += " in exec " + Printable(a.exec_id());
  std::string line =
      Printable(a.time()) + "  " + Printable(a.decoy()) + " from " + Printable(a.where());
  if (a.channel() == "file-read") {
    line += " read (" + Printable(a.target()) + ")";
  } else {
    line += " seen in " + Printable(a.channel());
    if (!a.target().empty()) line += " to " + Printable(a.target());
  }
  line += who;
  if (!a.detail().empty()) line += ": " + Printable(a.detail());
  return line;
}

namespace {

std::string Bytes(uint64_t n) {
  char b[32];
  if (n >= (1ull << 30)) {
    std::snprintf(b, sizeof b, "%.1f GiB", static_cast<double>(n) / (1ull << 30));
  } else if (n >= (1ull << 20)) {
    std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(n) / (1ull << 20));
  } else {
    std::snprintf(b, sizeof b, "%.1f KiB", static_cast<double>(n) / 1024);
  }
  return b;
}

std::string ModeText(const v1::DiffEntry& e) {
  std::string t = e.type() == "dir"       ? "d"
                  : e.type() == "symlink" ? "l"
                  : e.type() == "file"    ? "-"
                                          : "?";
  const unsigned m = static_cast<unsigned>(std::strtoul(e.mode().c_str(), nullptr, 8));
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) t += (m >> (8 - i) & 1) ? rwx[i] : '-';
  if (m & 04000) t[3] = (m & 0100) ? 's' : 'S';
  if (m & 02000) t[6] = (m & 010) ? 's' : 'S';
  return t;
}

std::string EntryText(const v1::DiffEntry& e) {
  std::string flags;
  for (const auto& f : e.flags()) flags += (flags.empty() ? "  [" : ", ") + f;
  if (!flags.empty()) flags += "]";
  char line[160];
  std::snprintf(line, sizeof line, "%-8s %s %5u:%-5u %10llu  ", e.change().c_str(),
                ModeText(e).c_str(), e.uid(), e.gid(), static_cast<unsigned long long>(e.size()));
  return line + Printable(e.path()) + flags;
}

Result<v1::DiffResponse> FetchDiff(Stub* stub, const std::string& name, const std::string& label) {
  grpc::ClientContext ctx;
  v1::DiffRequest req;
  req.set_workspace(name);
  req.set_label(label);
  v1::DiffResponse resp;
  Status s = FromGrpc(stub->Diff(Deadline(&ctx, 600), req, &resp));
  if (!s.ok()) return s;
  return resp;
}

}  // namespace

Result<std::string> TakeCheckpoint(Stub* stub, const std::string& name, bool quiet) {
  grpc::ClientContext ctx;
  v1::CheckpointRequest req;
  req.set_workspace(name);
  v1::CheckpointResponse resp;
  Status s = FromGrpc(stub->Checkpoint(Deadline(&ctx, 120), req, &resp));
  if (!s.ok()) return s;
  if (resp.checkpoints().empty()) return Status(Code::kInternal, "the daemon took no checkpoint");
  if (!quiet) {
    std::fprintf(stderr, "workspace: checkpoint %s of '%s' taken (%.1f s)\n",
                 resp.checkpoints(0).label().c_str(), name.c_str(), resp.seconds());
  }
  return resp.checkpoints(0).label();
}

void PrintExecSummary(Stub* stub, const std::string& name, const std::string& label,
                      const std::string& started_at) {
  std::string out = "\nworkspace: since checkpoint " + label + " of '" + name + "':\n";
  auto diff = FetchDiff(stub, name, label);
  if (!diff.ok()) {
    out += "  what changed on its disk could not be read: " + diff.status().message() + "\n";
  } else {
    int flagged = 0, shown = 0, executables = 0;
    for (const auto& e : diff->entries()) {
      if (e.flags().empty() || e.change() == "removed") continue;
      ++flagged;
      for (const auto& f : e.flags()) executables += f == "executable";
      if (shown < 12) {
        out += "  " + EntryText(e) + "\n";
        ++shown;
      }
    }
    if (flagged > shown) out += "  ... and " + std::to_string(flagged - shown) + " more\n";
    if (diff->cut()) {
      out +=
          "  THE LIST IS INCOMPLETE: the disk's walk stopped at a bound or an unreadable folder "
          "(treat the workspace as compromised)\n";
    }
    out += "  files changed outside the shares: " + std::to_string(diff->entries_size()) + " (" +
           std::to_string(flagged) + " that run, are setuid or executable; workspace diff " + name +
           " " + label + ")\n";
  }
  // What was denied, and the decoys sent, while it ran.
  int denied = 0;
  {
    grpc::ClientContext ctx;
    v1::AuditRequest req;
    req.set_name(name);
    auto reader = stub->Audit(&ctx, req);
    v1::LogsResponse chunk;
    std::string pending;
    std::map<std::string, int> hosts;
    while (reader->Read(&chunk)) {
      pending += chunk.data();
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        auto j = nlohmann::json::parse(pending.substr(0, nl), nullptr, false);
        pending.erase(0, nl + 1);
        if (!j.is_object() || j.value("time", "") < started_at ||
            j.value("decision", "") != "deny") {
          continue;
        }
        ++denied;
        ++hosts[j.value("target", "") +
                (j.value("port", 0) ? ":" + std::to_string(j.value("port", 0)) : "")];
      }
    }
    (void)reader->Finish();
    std::string list;
    for (const auto& [h, n] : hosts) {
      if (list.size() > 200) {
        list += ", ...";
        break;
      }
      list += (list.empty() ? "" : ", ") + Printable(h);
    }
    out += "  egress denied: " + std::to_string(denied) + (list.empty() ? "" : " (" + list + ")") +
           "\n";
  }
  {
    grpc::ClientContext ctx;
    v1::AlertsRequest req;
    req.set_workspace(name);
    v1::AlertsResponse resp;
    int touched = 0;
    std::string which;
    if (FromGrpc(stub->Alerts(Deadline(&ctx, 30), req, &resp)).ok()) {
      for (const auto& a : resp.alerts()) {
        if (a.time() < started_at) continue;
        ++touched;
        if (which.find(a.decoy() + " (" + a.where() + ")") == std::string::npos) {
          which += (which.empty() ? "" : ", ") + a.decoy() + " (" + a.where() + ")";
        }
      }
    }
    out += "  decoys touched: " + std::to_string(touched) +
           (touched ? " — " + Printable(which) + " (workspace alerts " + name + ")" : "") + "\n";
  }
  out += "  to undo it all: workspace rollback " + name + " " + label + "\n";
  std::fprintf(stderr, "%s", out.c_str());
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
          "(%llu older alerts were dropped to keep the newest 1000; the audit log names "
          "each send: workspace audit %s)\n",
          static_cast<unsigned long long>(resp.dropped()), name.c_str());
    }
    if (shown > 0) {
      std::fprintf(stderr,
                   "workspace: something in '%s' read a decoy credential and tried to send it. "
                   "Treat the workspace as compromised: see what changed on its disk (workspace "
                   "diff %s [CHECKPOINT]), then roll it back (workspace rollback %s CHECKPOINT) "
                   "or throw the disk away (workspace reset %s)\n",
                   name.c_str(), name.c_str(), name.c_str(), name.c_str());
    } else if (!resp.decoys()) {
      std::fprintf(stderr, "workspace: '%s' has no decoys (created with --no-decoys)\n",
                   name.c_str());
    } else {
      std::fprintf(stderr, "workspace: no %salerts in '%s'\n", all ? "" : "new ", name.c_str());
    }
  });

  auto* cp = app.add_subcommand(
      "checkpoint",
      "Checkpoint a workspace's disk (seconds, nothing copied), list its checkpoints, or drop one: "
      "checkpoint [NAME] [LABEL] | --list | --rm LABEL");
  cp->add_option("name", name, kNameHelp);
  cp->add_option("label", label, "Its label (default cp-N): letters, digits, - _ .");
  cp->add_flag("--list", list, "List the workspace's checkpoints");
  cp->add_option("--rm", remove, "Forget this checkpoint")->type_name("LABEL");
  cp->add_flag("--json", json, "JSON output (fields in docs/cli.md)");
  cp->callback([&] {
    if (list + !remove.empty() + !label.empty() > 1) {
      return void(c.code = Fail("give a LABEL, --list or --rm LABEL, one of them", kUsage));
    }
    if (!label.empty() || !remove.empty()) {
      if (Status s = CheckCheckpointLabel(label.empty() ? remove : label); !s.ok()) {
        return void(c.code = Fail(s.message(), kUsage));
      }
    }
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &name)) return;
    grpc::ClientContext ctx;
    v1::CheckpointRequest req;
    req.set_workspace(name);
    req.set_label(remove.empty() ? label : remove);
    req.set_list(list);
    req.set_remove(!remove.empty());
    v1::CheckpointResponse resp;
    Status s = FromGrpc(stub->Checkpoint(Deadline(&ctx, 120), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    if (!remove.empty()) {
      return void(std::fprintf(stderr, "workspace: checkpoint %s of '%s' dropped\n", remove.c_str(),
                               name.c_str()));
    }
    if (list) {
      for (const auto& cp : resp.checkpoints()) {
        std::printf("%-24s %s\n", cp.label().c_str(), cp.created_at().c_str());
      }
      return;
    }
    std::printf("%s\n", resp.checkpoints(0).label().c_str());
    std::fprintf(stderr,
                 "workspace: checkpoint %s of '%s' taken (%.1f s); see what changes since: "
                 "workspace diff %s %s; go back: workspace rollback %s %s\n",
                 resp.checkpoints(0).label().c_str(), name.c_str(), resp.seconds(), name.c_str(),
                 resp.checkpoints(0).label().c_str(), name.c_str(),
                 resp.checkpoints(0).label().c_str());
  });

  auto* rb = app.add_subcommand(
      "rollback",
      "Put a workspace's disk back as it was at a checkpoint (default: the last) and reboot it; "
      "settings, shares and allowlist are kept");
  rb->add_option("name", rb_name, kNameHelp);
  rb->add_option("label", rb_label, "The checkpoint (default: the last one)");
  rb->add_flag("--json", rb_json, "JSON output (fields in docs/cli.md)");
  rb->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &rb_name)) return;
    grpc::ClientContext ctx;
    v1::RollbackRequest req;
    req.set_workspace(rb_name);
    req.set_label(rb_label);
    v1::RollbackResponse resp;
    if (!rb_json && Tty()) {
      std::fprintf(stderr, "workspace: rolling '%s' back and rebooting it...\n", rb_name.c_str());
    }
    Status s = FromGrpc(stub->Rollback(Deadline(&ctx, 300), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (rb_json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    std::printf("%s\n", rb_name.c_str());
    std::fprintf(stderr,
                 "workspace: '%s' is back at checkpoint %s (%s written after it discarded, "
                 "%.1f s)\n",
                 rb_name.c_str(), resp.label().c_str(), Bytes(resp.discarded_bytes()).c_str(),
                 resp.seconds());
  });

  auto* df = app.add_subcommand(
      "diff",
      "List the files added, changed and removed on a workspace's disk since a checkpoint (or "
      "since create), read on the host: setuid files, login/boot/scheduled hooks and new "
      "executables first");
  df->add_option("name", diff_name, kNameHelp);
  df->add_option("label", diff_label, "The checkpoint (default: since the workspace was created)");
  df->add_flag("--json", diff_json, "JSON output (fields in docs/cli.md)");
  df->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &diff_name)) return;
    auto diff = FetchDiff(stub, diff_name, diff_label);
    if (!diff.ok()) return void(c.code = Fail(diff.status()));
    if (diff_json) return void(std::printf("%s\n", ToJson(diff.value()).c_str()));
    for (const auto& e : diff->entries()) std::printf("%s\n", EntryText(e).c_str());
    for (const auto& u : diff->unreadable()) {
      std::fprintf(stderr,
                   "workspace: the folder %s could not be read whole: what it holds may be "
                   "missing from the list\n",
                   Printable(u).c_str());
    }
    std::fprintf(stderr,
                 "workspace: %d change%s on the disk of '%s' since %s (%s written, %.1f s)%s\n",
                 diff->entries_size(), diff->entries_size() == 1 ? "" : "s", diff_name.c_str(),
                 diff->since().c_str(), Bytes(diff->changed_bytes()).c_str(), diff->seconds(),
                 diff->cut() ? "; the walk stopped at its bound: the list is incomplete" : "");
  });
}

}  // namespace ws::cli
