// Workspaces' secrets: the caller's store, bindings per workspace
// (STATE/workspaces/NAME/secrets.json: secret names and their placeholders,
// never a value), and what a binding sets up — the egress relay's plans with
// the workspace CA (STATE/workspaces/NAME/ca/), and the guest's CA and
// placeholders (GuestAgent::Configure).
#include <strings.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host/common/atomic_file.h"
#include "host/common/base64.h"
#include "host/controller/workspaces.h"
#include "host/controller/workspaces_internal.h"
#include "host/github/github_http.h"
#include "host/net/ai_api_hosts.h"
#include "host/net/http_rules.h"
#include "host/net/workspace_ca.h"

namespace ws::controller {

using namespace internal;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Most secrets bound to one workspace.
constexpr size_t kMaxBindings = 16;

}  // namespace

std::string Workspaces::BindingsPath(const std::string& name) const {
  return layout_.WorkspaceDir(name) + "/secrets.json";
}

// The file names its owner: bindings are only ever read for the workspace
// (and owner) they were written for, even by a call that began before the
// workspace was destroyed and its name taken by someone else.
Result<std::vector<Workspaces::Bound>> Workspaces::ReadBindings(const std::string& name,
                                                                uid_t owner) const {
  std::vector<Bound> out;
  std::error_code ec;
  if (!fs::exists(BindingsPath(name), ec)) return out;
  const Status bad(Code::kInternal, BindingsPath(name) + " is not this workspace's bindings file");
  json j = json::parse(ReadFileOrEmpty(BindingsPath(name)), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("bindings") || !j["bindings"].is_array() ||
      !j.contains("owner") || !j["owner"].is_number_unsigned() ||
      j["owner"].get<uint64_t>() != owner) {
    return bad;
  }
  for (const auto& b : j["bindings"]) {
    if (!b.is_object() || !b.contains("secret") || !b["secret"].is_string() ||
        !b.contains("placeholder") || !b["placeholder"].is_string()) {
      return bad;
    }
    out.push_back({b["secret"].get<std::string>(), b["placeholder"].get<std::string>()});
  }
  return out;
}

Status Workspaces::WriteBindings(const std::string& name, uid_t owner,
                                 const std::vector<Bound>& bound) const {
  json list = json::array();
  for (const auto& b : bound) {
    list.push_back({{"secret", b.secret}, {"placeholder", b.placeholder}});
  }
  return WritePrivateFile(BindingsPath(name),
                          json{{"owner", owner}, {"bindings", list}}.dump(2) + "\n");
}

std::vector<std::string> Workspaces::BoundSecrets(const std::string& name, uid_t owner) const {
  std::vector<std::string> out;
  auto bound = ReadBindings(name, owner);
  if (bound.ok()) {
    for (const auto& b : bound.value()) out.push_back(b.secret);
  }
  return out;
}

namespace {

// A GitHub token (the github preset) serves git as well as the API: git
// sends it as Basic "x-access-token:TOKEN" to github.com (from a credential
// helper that knows only the placeholder), gh as "token TOKEN" to
// api.github.com. Each form gets a binding whose placeholder is that form
// of the workspace's placeholder.
void AddGithubGitBindings(const net::Binding& token, net::HostPlan* git, net::HostPlan* api,
                          std::vector<std::string>* env) {
  net::Binding basic = token;
  basic.format = "Basic {}";
  basic.placeholder = EncodeBase64("x-access-token:" + token.placeholder);
  basic.value = EncodeBase64("x-access-token:" + token.value);
  git->bindings.push_back(std::move(basic));
  net::Binding gh = token;
  gh.format = "token {}";
  api->bindings.push_back(std::move(gh));
  // git's credential helper for github.com, for every exec: the placeholder.
  env->push_back("GIT_CONFIG_COUNT=1");
  env->push_back("GIT_CONFIG_KEY_0=credential.https://github.com.helper");
  env->push_back(
      "GIT_CONFIG_VALUE_0=!f() { test \"$1\" = get && echo username=x-access-token && "
      "echo password=" +
      token.placeholder + "; }; f");
}

}  // namespace

Status Workspaces::ApplySecrets(const std::string& name, const virt::WorkspaceMeta& meta,
                                bool at_boot) {
  if (meta.net != NetMode::kAllowlist) {
    // No egress to read: the decoys still go in (a copy out is read for them).
    guest::GuestSettings settings;
    ArmTripwire(name, &settings);
    if (settings.home_files.empty()) return Status::Ok();
    auto agent = agents_.Get(name, 10s);
    if (!agent.ok()) return agent.status();
    return agent.value()->Configure(settings, 10s);
  }
  // The AI APIs it may reach, however the allowlist allows them: only
  // through a binding (http_rules.h), so their requests are read even with none.
  const std::vector<net::AllowEntry> ai_apis = net::AiApiHosts();
  auto is_ai_api = [&](const std::string& host) {
    return std::any_of(ai_apis.begin(), ai_apis.end(),
                       [&](const net::AllowEntry& e) { return e.host == host; });
  };
  std::vector<std::string> ai_hosts;
  for (const auto& e : ai_apis) {
    if (net::Decide(meta.allow, e.host, 443).verdict == net::Verdict::kAllow ||
        net::Decide(meta.allow, e.host, 80).verdict == net::Verdict::kAllow) {
      ai_hosts.push_back(e.host);
    }
  }
  // Package registries allowed directly: read-only (a publish is an upload).
  std::vector<const net::AllowEntry*> registries;
  for (const auto& e : meta.allow) {
    if (!e.is_wildcard() && net::IsPackageRegistryHost(e.host)) registries.push_back(&e);
  }
  // GitHub hosts, however the allowlist allows them: held to the GitHub
  // rule set (github_http.h), with the workspace's pushes and API writes.
  std::vector<std::string> github_hosts;
  for (const auto& host : github::GithubHosts()) {
    for (uint32_t port : {443u, 80u, 22u}) {
      if (net::Decide(meta.allow, host, port).verdict == net::Verdict::kAllow) {
        github_hosts.push_back(host);
        break;
      }
    }
  }
  auto bound = ReadBindings(name, meta.owner_uid);
  std::vector<net::HostPlan> plans;
  std::vector<std::string> env;
  auto plan_for = [&](const std::string& host, net::HostClass cls) -> net::HostPlan& {
    for (auto& p : plans) {
      if (p.host == host) return p;
    }
    net::HostPlan plan;
    plan.host = host;
    // A registry stays one with a secret bound to it: read-only unless
    // allowed writes (a bound token must not make it take a publish).
    plan.host_class = net::IsPackageRegistryHost(host) ? net::HostClass::kRegistry : cls;
    plans.push_back(plan);
    return plans.back();
  };
  if (bound.ok()) {
    if (bound.value().empty() && ai_hosts.empty() && registries.empty() && github_hosts.empty() &&
        at_boot && !HasDecoys(name)) {
      return Status::Ok();  // a fresh guest has nothing to undo
    }
    // The owner's secrets, read once.
    const auto secrets = bound.value().empty()
                             ? Result<std::vector<store::Secret>>(std::vector<store::Secret>())
                             : secrets_.List(meta.owner_uid);
    for (const auto& b : bound.value()) {
      const store::Secret* secret = nullptr;
      if (secrets.ok()) {
        for (const auto& s : secrets.value()) {
          if (s.name == b.secret) secret = &s;
        }
      }
      if (!secret) continue;  // removed since: no plan, no variable, never its value
      net::Binding binding;
      binding.secret = b.secret;
      binding.placeholder = b.placeholder;
      binding.header = secret->header;
      binding.format = secret->format;
      binding.value = secret->value;
      if (!secret->env.empty()) env.push_back(secret->env + "=" + b.placeholder);
      if (secret->host == "api.github.com" &&
          strcasecmp(secret->header.c_str(), "authorization") == 0) {
        // Both planned first: a plan made by the second call must not move the first.
        plan_for("github.com", net::HostClass::kOther);
        plan_for("api.github.com", net::HostClass::kOther);
        AddGithubGitBindings(binding, &plan_for("github.com", net::HostClass::kOther),
                             &plan_for("api.github.com", net::HostClass::kOther), &env);
      }
      // An AI API takes only the bound key: a worm's own is refused there.
      plan_for(secret->host,
               is_ai_api(secret->host) ? net::HostClass::kAiApi : net::HostClass::kOther)
          .bindings.push_back(std::move(binding));
    }
  }
  for (const auto& host : ai_hosts) plan_for(host, net::HostClass::kAiApi);
  {
    // Every GitHub host planned (allowed, or carrying a bound token) is
    // held to the rule set: a token's plan never stands without its rules.
    auto rules = std::make_shared<github::GithubRules>();
    for (const auto& p : meta.github_push) {
      if (auto r = github::ParsePushRule(p); r.ok()) rules->push.push_back(r.value());
    }
    for (const auto& a : meta.github_api_writes) {
      if (auto r = github::ParseApiWrite(a); r.ok()) rules->api_writes.push_back(r.value());
    }
    for (const auto& host : github_hosts) plan_for(host, github::GithubHostClass(host));
    for (auto& p : plans) {
      const net::HostClass c = github::GithubHostClass(p.host);
      if (c == net::HostClass::kOther) continue;
      p.host_class = c;
      p.github = rules;
    }
  }
  for (const auto* e : registries) {  // allow --writes lifts read-only for the host
    plan_for(e->host, net::HostClass::kRegistry).writes_allowed |= e->writes;
  }
  // Fails closed: when anything below fails, the hosts stay planned but
  // without values or a CA, and the relay refuses them (no key goes out,
  // and no AI API becomes an open tunnel).
  auto fail = [&](Status s) {
    for (auto& p : plans) p.bindings.clear();
    net_.SetIntercept(name, plans, nullptr);
    return s;
  };
  if (!bound.ok()) return fail(bound.status());
  std::shared_ptr<net::WorkspaceCa> ca;
  if (!plans.empty()) {
    if (!net_.intercept_tls()) {
      return fail(
          Status(Code::kFailedPrecondition, "this daemon cannot intercept TLS (see its log)"));
    }
    std::vector<std::string> hosts;
    for (const auto& p : plans) hosts.push_back(p.host);
    std::sort(hosts.begin(), hosts.end());
    std::string joined;
    for (const auto& h : hosts) joined += h + "\n";
    const std::string dir = layout_.WorkspaceDir(name) + "/ca";
    if (ReadFileOrEmpty(dir + "/hosts") == joined) {
      auto loaded = net::WorkspaceCa::Load(ReadFileOrEmpty(dir + "/cert.pem"),
                                           ReadFileOrEmpty(dir + "/key.pem"), hosts);
      if (loaded.ok()) ca = std::move(loaded.value());
    }
    if (!ca) {  // none yet, or for other hosts: a new one (the guest is told below)
      auto made = net::WorkspaceCa::Create(hosts, "workspace " + name);
      if (!made.ok()) return fail(made.status());
      ca = std::move(made.value());
      mkdir(dir.c_str(), 0700);
      for (auto [file, text] : {std::pair<const char*, std::string>{"key.pem", ca->KeyPem()},
                                {"cert.pem", ca->CertPem()},
                                {"hosts", joined}}) {
        if (Status s = WritePrivateFile(dir + "/" + file, text); !s.ok()) return fail(s);
      }
    }
  }
  net_.SetIntercept(name, plans, ca);
  guest::GuestSettings settings;
  settings.ca_pem = ca ? ca->CertPem() : "";
  settings.env = std::move(env);
  ArmTripwire(name, &settings);
  auto agent = agents_.Get(name, 10s);
  if (!agent.ok()) return agent.status();
  Status s = agent.value()->Configure(settings, 10s);
  if (!s.ok()) {
    return Status(s.code(), "setting the workspace CA and secrets' placeholders in the guest: " +
                                s.message() +
                                " (an agent older than this daemon? rebuild the images: "
                                "./scripts/setup)");
  }
  return Status::Ok();
}

Status Workspaces::AddSecret(const Caller& c, store::Secret s) {
  s.added.clear();
  const std::string secret_name = s.name;
  if (Status put = secrets_.Put(c.uid, std::move(s)); !put.ok()) return put;
  // A new value or host for workspaces already bound to it.
  auto all = List(c);
  if (!all.ok()) return Status::Ok();
  for (const auto& ws : all.value()) {
    if (ws.meta.owner_uid != c.uid || ws.state != virt::VmState::kRunning) continue;
    auto lock = LockFor(ws.name);
    std::lock_guard guard(*lock);
    auto fresh = Find(c, ws.name);  // as it is now, under its lock
    if (!fresh.ok() || fresh->uuid != ws.uuid) continue;
    auto bound = ReadBindings(ws.name, ws.meta.owner_uid);
    if (!bound.ok()) continue;
    for (const auto& b : bound.value()) {
      if (b.secret == secret_name) (void)ApplySecrets(ws.name, ws.meta, false);
    }
  }
  return Status::Ok();
}

Result<std::vector<SecretView>> Workspaces::ListSecrets(const Caller& c) {
  auto secrets = secrets_.List(c.uid);
  if (!secrets.ok()) return secrets.status();
  auto all = List(c);
  std::vector<SecretView> out;
  for (auto& s : secrets.value()) {
    SecretView v{store::Redacted(std::move(s)), {}};
    if (all.ok()) {
      for (const auto& ws : all.value()) {
        if (ws.meta.owner_uid != c.uid) continue;
        auto bound = ReadBindings(ws.name, ws.meta.owner_uid);
        if (!bound.ok()) continue;
        for (const auto& b : bound.value()) {
          if (b.secret == v.secret.name) v.bound_to.push_back(ws.name);
        }
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::vector<std::string>> Workspaces::RemoveSecret(const Caller& c,
                                                          const std::string& name) {
  auto secret = secrets_.Get(c.uid, name);
  if (!secret.ok()) return secret.status();
  std::vector<std::string> unbound;
  auto all = List(c);
  if (all.ok()) {
    for (const auto& ws : all.value()) {
      if (ws.meta.owner_uid != c.uid) continue;
      auto r = BindSecrets(c, ws.name, {}, {name});
      if (r.ok()) unbound.push_back(ws.name);
    }
  }
  if (Status s = secrets_.Remove(c.uid, name); !s.ok()) return s;
  return unbound;
}

Result<std::vector<BindingView>> Workspaces::BindSecrets(const Caller& c,
                                                         const std::string& workspace,
                                                         const std::vector<std::string>& add,
                                                         const std::vector<std::string>& remove) {
  auto lock = LockFor(workspace);
  std::lock_guard guard(*lock);
  auto ws = Find(c, workspace);
  if (!ws.ok()) return ws.status();
  if (ws->meta.net != NetMode::kAllowlist) {
    return Status(Code::kFailedPrecondition,
                  "workspace '" + workspace + "' has --net " + NetModeName(ws->meta.net) +
                      ": secrets are injected by its egress, which it does not have");
  }
  if (add.size() + remove.size() > kMaxBindings * 2) {
    return Status(Code::kInvalidArgument, "too many names at once");
  }
  auto bound = ReadBindings(workspace, ws->meta.owner_uid);
  if (!bound.ok()) return bound.status();
  auto& list = bound.value();
  bool removed_any = false;
  for (const auto& name : remove) {
    const size_t before = list.size();
    std::erase_if(list, [&](const Bound& b) { return b.secret == name; });
    if (list.size() == before) {
      return Status(Code::kNotFound,
                    "secret '" + name.substr(0, 40) + "' is not bound to '" + workspace + "'");
    }
    removed_any = true;
  }
  for (const auto& name : add) {
    // The owner's secret: a workspace only ever carries its owner's.
    auto secret = secrets_.Get(ws->meta.owner_uid, name);
    if (!secret.ok()) return secret.status();
    if (std::any_of(list.begin(), list.end(), [&](const Bound& b) { return b.secret == name; })) {
      continue;
    }
    if (list.size() >= kMaxBindings) {
      return Status(Code::kResourceExhausted,
                    "a workspace takes at most " + std::to_string(kMaxBindings) + " secrets");
    }
    list.push_back({name, store::NewPlaceholder()});
  }
  if (!add.empty() || removed_any) {
    if (Status s = WriteBindings(workspace, ws->meta.owner_uid, list); !s.ok()) return s;
    if (ws->state == virt::VmState::kRunning) {
      if (Status s = ApplySecrets(workspace, ws->meta, false); !s.ok()) return s;
    }
  }
  std::vector<BindingView> out;
  for (const auto& b : list) {
    auto secret = secrets_.Get(ws->meta.owner_uid, b.secret);
    out.push_back({b.secret, secret.ok() ? secret->host : "", secret.ok() ? secret->env : ""});
  }
  return out;
}

}  // namespace ws::controller
