#include <algorithm>

#include "host/controller/member_policy.h"
#include "host/controller/workspaces.h"
#include "host/controller/workspaces_internal.h"
#include "host/github/api_rules.h"
#include "host/github/github_http.h"
#include "host/github/push_rules.h"

namespace ws::controller {

using namespace internal;

namespace {

bool IsGithubWord(const std::string& spec) { return spec == "github"; }

}  // namespace

Result<virt::WorkspaceMeta> Workspaces::UpdateAllowlist(const Caller& c, const std::string& name,
                                                        const AllowChange& change) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  if (ws->meta.net != NetMode::kAllowlist) {
    return Status(Code::kFailedPrecondition, "workspace '" + name + "' has --net " +
                                                 NetModeName(ws->meta.net) +
                                                 ": it has no allowlist");
  }
  const bool github_added = std::any_of(change.add.begin(), change.add.end(), IsGithubWord);
  if ((!change.push.empty() || !change.api_writes.empty()) && !github_added) {
    return Status(Code::kInvalidArgument,
                  "--push and --api-write belong to the GitHub rule set: workspace allow " + name +
                      " github --push OWNER/REPO[:REF_GLOB]");
  }
  if (Status s = github::CheckGithubRuleSpecs(change.push, change.api_writes); !s.ok()) return s;
  if (github_added && change.writes) {
    return Status(Code::kInvalidArgument,
                  "--writes is for package registries; GitHub takes --push and --api-write");
  }
  auto& list = ws->meta.allow;
  for (const auto& spec : change.remove) {
    if (IsGithubWord(spec)) {  // the rule set: its hosts and its rules
      auto it = std::remove_if(list.begin(), list.end(),
                               [](const net::AllowEntry& x) { return x.source == "github"; });
      if (it == list.end() && ws->meta.github_push.empty() && ws->meta.github_api_writes.empty())
        return Status(Code::kNotFound, "the GitHub rule set is not on '" + name + "'");
      list.erase(it, list.end());
      ws->meta.github_push.clear();
      ws->meta.github_api_writes.clear();
      continue;
    }
    auto e = net::ParseAllowEntry(spec, "user");
    if (!e.ok()) return e.status();
    auto it = std::remove_if(list.begin(), list.end(), [&](const net::AllowEntry& x) {
      return x.host == e->host && x.port == e->port;
    });
    if (it == list.end())
      return Status(Code::kNotFound, spec + " is not on the allowlist of '" + name + "'");
    list.erase(it, list.end());
  }
  const MemberPolicy policy = LoadMemberPolicy(DaemonConfigPath());
  auto add = [&](net::AllowEntry e, bool writes) {
    e.writes = writes;
    bool dup = false;
    for (auto& x : list) {
      if (x.host != e.host) continue;
      x.writes = writes;  // for the host, whatever the port: --writes again to keep them
      if (x.port == e.port) {
        if (e.source == "user") x.source = "user";  // named explicitly now
        dup = true;
      }
    }
    if (!dup) list.push_back(std::move(e));
  };
  for (const auto& spec : change.add) {
    if (IsGithubWord(spec)) {
      // Its hosts on 443 only (no SSH to GitHub), each read by the rule set.
      for (const auto& host : github::GithubHosts()) {
        auto e = net::ParseAllowEntry(host + ":443", "github");
        if (!e.ok()) return e.status();
        add(e.value(), false);
      }
      ws->meta.github_push = change.push;
      ws->meta.github_api_writes = change.api_writes;
      continue;
    }
    auto e = net::ParseAllowEntry(spec, "user");
    if (!e.ok()) return e.status();
    if (Status s = CheckAllowEntry(policy, c.uid, e.value()); !s.ok()) return s;
    if (change.writes && !net::IsPackageRegistryHost(e->host)) {
      return Status(Code::kInvalidArgument, "--writes is for package registries (" +
                                                net::PackageRegistryHostList() + "); " + spec +
                                                " is not one, and no other host is read-only");
    }
    if (change.writes && e->port != 0) {
      return Status(Code::kInvalidArgument,
                    "--writes takes the registry's name without a port (it holds for the host)");
    }
    add(e.value(), change.writes);
  }
  Status s = hv_.SetMetadata(name, virt::RenderMetadataForUpdate(ws->meta));
  if (!s.ok()) return s;
  net_.SetAllowlist(name, list, ws->meta.owner_uid == 0 || policy.allow_private_hosts);
  if (ws->state == virt::VmState::kRunning) {
    // An AI API or a GitHub host added or removed, or the GitHub rules
    // changed: the hosts the egress reads change.
    if (Status a = ApplySecrets(name, ws->meta, false); !a.ok()) {
      return Status(a.code(), "the allowlist changed, but: " + a.message());
    }
  }
  return ws->meta;
}

Result<std::vector<virt::WorkspaceMeta::Port>> Workspaces::UpdatePorts(
    const Caller& c, const std::string& name, const std::vector<virt::WorkspaceMeta::Port>& add,
    const std::vector<uint16_t>& remove) {
  auto lock = LockFor(name);
  std::lock_guard guard(*lock);
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  auto& ports = ws->meta.ports;
  for (uint16_t hp : remove) {
    auto it = std::find_if(ports.begin(), ports.end(), [&](const auto& p) { return p.host == hp; });
    if (it == ports.end())
      return Status(Code::kNotFound,
                    "host port " + std::to_string(hp) + " is not published by '" + name + "'");
    ports.erase(it);
    net_.ClosePort(name, hp);
  }
  const MemberPolicy policy = LoadMemberPolicy(DaemonConfigPath());
  for (auto p : add) {
    if (p.guest == 0) return Status(Code::kInvalidArgument, "guest port must be 1-65535");
    if (Status s = CheckHostPort(policy, c.uid, p.host); !s.ok()) return s;
    if (ws->state == virt::VmState::kRunning) {
      Status s = net_.OpenPort(name, &p, LowPortOk(c, policy, p.guest));
      if (!s.ok()) return s;
    } else if (p.host == 0) {
      return Status(Code::kFailedPrecondition, "workspace '" + name +
                                                   "' is stopped; give HOST_PORT:GUEST_PORT, "
                                                   "or start it first");
    }
    ports.push_back(p);
  }
  Status s = hv_.SetMetadata(name, virt::RenderMetadataForUpdate(ws->meta));
  if (!s.ok()) return s;
  return ports;
}

Result<std::string> Workspaces::AuditLogPath(const Caller& c, const std::string& name) {
  auto ws = Find(c, name);
  if (!ws.ok()) return ws.status();
  return layout_.WorkspaceDir(name) + "/audit.log";
}

}  // namespace ws::controller
