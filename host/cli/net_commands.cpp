#include "host/cli/net_commands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "host/cli/default_allow.h"
#include "host/cli/doctor.h"
#include "host/cli/exit_codes.h"
#include "host/cli/project_file.h"
#include "host/common/grpc_status.h"
#include "host/common/names.h"
#include "host/common/unique_fd.h"
#include "host/shares/share_spec.h"

namespace ws::cli {

NetCommands::NetCommands(CLI::App& app, Context& context) : c(context) {
  // allow
  allow_cmd =
      app.add_subcommand("allow",
                         "Change or list a workspace's egress allowlist (changes apply at once, "
                         "and are kept): allow [NAME] HOST[:PORT]..., or allow [NAME] github "
                         "[--push OWNER/REPO[:REF_GLOB]]... [--api-write SPEC]...");
  allow_cmd->add_option("args", allow_args,
                        "[NAME] then HOST[:PORT] or *.DOMAIN to allow (NAME: default the "
                        "current folder's workspace; name it to allow several hosts at once)");
  allow_cmd->add_option("--remove", allow_remove, "Remove HOST[:PORT] from the allowlist")
      ->allow_extra_args(false);
  allow_cmd->add_flag("--list", allow_list, "List the allowlist (with where each entry came from)");
  allow_cmd->add_flag("--writes", allow_writes,
                      "The package registries named take writes (npm publish, uploads); "
                      "without it they are read-only again");
  allow_cmd
      ->add_option("--push", allow_push,
                   "With github: OWNER/REPO[:REF_GLOB] the workspace may push to (default "
                   "refs agent/* and workspace/*; repeatable; replaces the list)")
      ->allow_extra_args(false);
  allow_cmd
      ->add_option("--api-write", allow_api_write,
                   "With github: an API write allowed, 'METHOD /PATH' ('*' a segment) or "
                   "'mutation FIELD' (repeatable; replaces the list)")
      ->allow_extra_args(false);
  allow_cmd->add_flag("--json", allow_json,
                      "JSON output: the allowlist after the change (fields in docs/cli.md)");
  allow_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    // Two words or more: NAME first. One: NAME with --list or --remove, else a host.
    const bool named =
        allow_args.size() >= 2 || (allow_args.size() == 1 && (allow_list || !allow_remove.empty()));
    if (!stub || !c.SplitName(stub, &allow_args, &allow_name, named)) return;
    if (allow_args.empty() && allow_remove.empty() && !allow_list) {
      return void(c.code =
                      Fail("give HOST[:PORT] to allow, --remove HOST[:PORT], or --list", kUsage));
    }
    if (allow_list && (!allow_args.empty() || !allow_remove.empty())) {
      return void(c.code = Fail("--list takes no HOST and no --remove", kUsage));
    }
    if (allow_writes && allow_args.empty()) {
      return void(c.code = Fail("--writes needs the registry HOST to allow writes to", kUsage));
    }
    grpc::ClientContext ctx;
    v1::AllowRequest req;
    req.set_name(allow_name);
    for (const auto& a : allow_args) req.add_add(a);
    for (const auto& r : allow_remove) req.add_remove(r);
    req.set_writes(allow_writes);
    for (const auto& p : allow_push) req.add_push(p);
    for (const auto& a : allow_api_write) req.add_api_write(a);
    v1::AllowResponse resp;
    Status s = FromGrpc(stub->Allow(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (allow_json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    if (!allow_list) return;
    for (const auto& a : resp.allow()) {
      std::string h = a.host().find(':') != std::string::npos ? "[" + a.host() + "]" : a.host();
      std::string port = a.port() ? ":" + std::to_string(a.port()) : "";
      std::printf("%-40s %s%s\n", (h + port).c_str(), a.source().c_str(),
                  a.writes() ? ", writes" : "");
    }
    PrintGithubRules(resp.github(), resp.allow(), "");
  });

  // port
  port_cmd =
      app.add_subcommand("port",
                         "Publish a guest port on the host's 127.0.0.1, or list/remove them: "
                         "port [NAME] [HOST_PORT:]GUEST_PORT");
  port_cmd->add_option("args", port_args,
                       "[NAME] then [HOST_PORT:]GUEST_PORT to publish (NAME: default the "
                       "current folder's workspace)");
  port_cmd->add_flag("--list", port_list, "List the published ports");
  port_cmd->add_option("--remove", port_remove, "Stop publishing this host port")
      ->allow_extra_args(false);
  port_cmd->add_flag("--json", port_json,
                     "JSON output: the published ports (fields in docs/cli.md)");
  port_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    // Two words: NAME SPEC. One: SPEC when it reads as one, else NAME.
    const bool named =
        port_args.size() >= 2 || (port_args.size() == 1 && !ParsePortSpec(port_args[0]).ok());
    if (!stub || !c.SplitName(stub, &port_args, &port_name, named)) return;
    if (port_args.size() > 1)
      return void(c.code = Fail("give one [HOST_PORT:]GUEST_PORT at a time", kUsage));
    v1::PortRequest req;
    req.set_name(port_name);
    const std::string spec = port_args.empty() ? "" : port_args[0];
    if (!spec.empty()) {
      auto f = ParsePortSpec(spec);
      if (!f.ok()) return void(c.code = Fail(f.status()));
      *req.add_add() = f.value();
    }
    for (auto r : port_remove) req.add_remove(r);
    if (spec.empty() && port_remove.empty() && !port_list) {
      return void(c.code =
                      Fail("give [HOST_PORT:]GUEST_PORT, --list or --remove HOST_PORT", kUsage));
    }
    grpc::ClientContext ctx;
    v1::PortResponse resp;
    Status s = FromGrpc(stub->Port(Deadline(&ctx, 30), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (port_json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    auto print = [&](const v1::PortForward& f) {
      std::printf("127.0.0.1:%u -> %s:%u\n", f.host_port(), port_name.c_str(), f.guest_port());
    };
    if (port_list) {
      for (const auto& f : resp.ports()) print(f);
    } else if (!spec.empty() && resp.ports_size() > 0) {
      print(resp.ports(resp.ports_size() - 1));  // the one just added
    }
  });

  // audit
  audit_cmd = app.add_subcommand("audit", "Show every egress attempt of a workspace");
  audit_cmd->add_option("name", audit_name, kNameHelp);
  audit_cmd->add_flag("--json", audit_json, "JSON lines (fields in docs/cli.md)");
  audit_cmd->add_flag("-f,--follow", audit_follow, "Keep printing new attempts");
  audit_cmd->add_flag("--denied", audit_denied, "Only what was denied");
  audit_cmd->callback([&] {
    Stub* stub = c.Connect(false);
    if (!stub || !c.Resolve(stub, &audit_name)) return;
    grpc::ClientContext ctx;
    v1::AuditRequest req;
    req.set_name(audit_name);
    req.set_follow(audit_follow);
    auto reader = stub->Audit(&ctx, req);
    v1::LogsResponse chunk;
    std::string pending;
    if (!audit_json)
      std::printf("%-24s %-6s %-40s %-16s %s\n", "TIME", "VERDICT", "TARGET", "ADDRESS", "REASON");
    while (reader->Read(&chunk)) {
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
        if (audit_denied && field("decision") == "allow") continue;
        if (audit_json) {
          line += '\n';
          if (!WriteAll(1, line.data(), line.size())) ctx.TryCancel();
          continue;
        }
        std::string target = field("target") + ":" + field("port");
        std::string address = field("address"), reason = field("reason");
        if (!field("endpoint").empty()) {
          // A registry request: what was asked, and how the cache answered.
          target = field("method") + " " + field("path");
          address = field("endpoint") + (field("cache").empty() ? "" : " " + field("cache"));
          reason = field("status") + " " + field("bytes_down") + " B" +
                   (reason.empty() ? "" : " " + reason);
        }
        if (target.size() > 40) target = target.substr(0, 37) + "...";
        std::printf("%-24s %-6s %-40s %-16s %s\n", field("time").c_str(), field("decision").c_str(),
                    target.c_str(), address.c_str(), reason.c_str());
        std::fflush(stdout);
      }
    }
    Status s = FromGrpc(reader->Finish());
    if (!s.ok()) c.code = Fail(s);
  });

  // cache
  auto* cache_cmd = app.add_subcommand("cache",
                                       "Show the package registry cache workspaces' npm installs "
                                       "go through (yours); 'clear' empties it");
  cache_cmd->add_flag("--json", cache_json, "JSON output (fields in docs/cli.md)");
  auto* clear_cmd = cache_cmd->add_subcommand("clear", "Remove every cached package of yours");
  clear_cmd->add_flag("--json", cache_json, "JSON output (fields in docs/cli.md)");
  auto run_cache = [&](bool clear) {
    Stub* stub = c.Connect(false);
    if (!stub) return;
    grpc::ClientContext ctx;
    v1::CacheRequest req;
    req.set_clear(clear);
    v1::CacheResponse resp;
    Status s = FromGrpc(stub->Cache(Deadline(&ctx, 120), req, &resp));
    if (!s.ok()) return void(c.code = Fail(s));
    if (cache_json) return void(std::printf("%s\n", ToJson(resp).c_str()));
    if (clear)
      std::printf("removed %llu entries (%s)\n",
                  static_cast<unsigned long long>(resp.freed_entries()),
                  Size(resp.freed_bytes()).c_str());
    std::printf("cache: %llu entries, %s of %s; npm from %s\n",
                static_cast<unsigned long long>(resp.entries()), Size(resp.bytes()).c_str(),
                Size(resp.max_bytes()).c_str(), resp.npm_upstream().c_str());
  };
  clear_cmd->callback([=] { run_cache(true); });
  cache_cmd->callback([=, this] {
    if (cache_cmd->get_subcommands().empty()) run_cache(false);
  });
}

}  // namespace ws::cli
