#include "host/github/github_http.h"

#include <algorithm>
#include <cctype>

#include "host/common/ascii.h"
#include "host/common/hex.h"

namespace ws::github {
namespace {

using net::BodyVerdict;
using net::HostClass;
using net::RequestOutcome;

RequestOutcome Pass(std::string rule) {
  RequestOutcome o;
  o.rule = std::move(rule);
  return o;
}

RequestOutcome Refuse(int status, std::string rule, std::string reason) {
  RequestOutcome o;
  o.refusal = {status, std::move(reason)};
  o.rule = std::move(rule);
  return o;
}

bool IsRead(const std::string& method) { return method == "GET" || method == "HEAD"; }

bool Listed(const GithubRules& rules, const std::string& repo) {
  return std::any_of(rules.push.begin(), rules.push.end(),
                     [&](const PushRule& r) { return r.repo == repo; });
}

std::string NotListed(const std::string& repo) {
  return "pushes to " + repo + " are not allowed in this workspace (on the host: workspace allow " +
         "NAME github --push " + repo + ")";
}

std::string Query(std::string_view target) {
  const size_t q = target.find('?');
  return q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
}

std::string_view Path(std::string_view target) { return target.substr(0, target.find('?')); }

// `s` with %XX decoded, lower-cased, and runs of '/' as one: how a lenient
// server might read a path or a query.
std::string Loosely(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      c = static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out += c;
  }
  return out;
}

// A push: held until its command list has been read; passed when every
// ref update passes the rules, else answered with git's own report.
BodyVerdict CheckPush(const GithubRules& rules, const std::string& repo, std::string_view body,
                      bool complete, RequestOutcome* o) {
  if (body == "0000") {
    // git's probe before a large push (http.postBuffer): no update at all.
    if (!complete) return BodyVerdict::kNeedMore;
    o->rule = "github push probe";
    return BodyVerdict::kPass;
  }
  PushCommands commands;
  switch (ParsePushCommands(body, &commands)) {
    case ParseState::kNeedMore:
      if (!complete) return BodyVerdict::kNeedMore;
      o->refusal = {400, "a push whose command list ends early"};
      o->rule = "github push";
      return BodyVerdict::kRefuse;
    case ParseState::kMalformed:
      o->refusal = {400, "a push the host cannot read: " + commands.error};
      o->rule = "github push";
      return BodyVerdict::kRefuse;
    case ParseState::kComplete:
      break;
  }
  std::vector<PushVerdict> verdicts;
  std::string refused, rules_used;
  for (const auto& u : commands.updates) {
    o->refs.push_back(u.old_oid + " " + u.new_oid + " " + u.ref);
    verdicts.push_back(CheckRefUpdate(rules.push, repo, u));
    const PushVerdict& v = verdicts.back();
    if (!v.allowed && refused.empty()) refused = v.reason;
    if (v.allowed && rules_used.find(v.rule) == std::string::npos) {
      rules_used += (rules_used.empty() ? "" : ", ") + v.rule;
    }
  }
  if (refused.empty()) {
    o->rule = "github push " + rules_used;
    return BodyVerdict::kPass;
  }
  o->rule = "github push";
  o->refusal = {403, refused, ReceivePackRefusal(commands, verdicts, refused)};
  return BodyVerdict::kRefuse;
}

RequestOutcome GitHost(const GithubRules& rules, const net::RequestHead& head,
                       net::BodyRule* body) {
  const auto git = ParseGitPath(head.target);
  if (IsRead(head.method)) {
    if (git && git->service == GitService::kInfoRefs &&
        Query(head.target).find("service=git-receive-pack") != std::string::npos) {
      if (!Listed(rules, git->repo)) return Refuse(403, "github push", NotListed(git->repo));
      return Pass("github push");
    }
    return Pass("github read");
  }
  if (head.method == "POST" && git && git->service == GitService::kUploadPack) {
    return Pass("github fetch");
  }
  if (head.method == "POST" && git && git->service == GitService::kReceivePack) {
    if (!Listed(rules, git->repo)) return Refuse(403, "github push", NotListed(git->repo));
    const auto types = head.All("content-type");
    if (types.size() != 1 || types.front() != "application/x-git-receive-pack-request") {
      return Refuse(415, "github push", "a push without git's request type");
    }
    const std::string repo = git->repo;
    body->limit = kMaxCommandBytes + 4;
    body->check = [&rules, repo](std::string_view b, bool complete, RequestOutcome* o) {
      return CheckPush(rules, repo, b, complete, o);
    };
    return Pass("github push");
  }
  return Refuse(403, "github",
                head.method + " " + std::string(Path(head.target)).substr(0, 200) +
                    " is refused: github.com takes git fetches from a workspace, and pushes to "
                    "the repositories listed with --push");
}

RequestOutcome ApiHost(const GithubRules& rules, const net::RequestHead& head,
                       net::BodyRule* body) {
  // Any path a server might route to GraphQL (/GraphQL, /graphql.json) is
  // GraphQL here, and read only one way: a JSON body, no query string.
  if (Loosely(Path(head.target)).rfind("/graphql", 0) == 0) {
    if (head.method != "POST" || Path(head.target) != "/graphql" ||
        head.target.find('?') != std::string::npos) {
      return Refuse(403, "github graphql",
                    "GraphQL is read only from the JSON body of POST /graphql");
    }
    const auto types = head.All("content-type");
    if (types.size() != 1 ||
        AsciiLower(types.front()).substr(0, types.front().find(';')) != "application/json") {
      return Refuse(415, "github graphql",
                    "a GraphQL request must be Content-Type: application/json");
    }
    body->limit = kMaxGraphqlBody;
    body->check = [&rules](std::string_view b, bool complete, RequestOutcome* o) {
      o->rule = "github graphql";
      if (!complete) return BodyVerdict::kNeedMore;
      const ApiVerdict v = CheckGraphqlBody(rules.api_writes, b);
      if (v.allowed) {
        o->rule = "github graphql " + v.rule;
        return BodyVerdict::kPass;
      }
      o->refusal = {403, v.reason};
      return BodyVerdict::kRefuse;
    };
    return Pass("github graphql");
  }
  const ApiVerdict v = CheckRestCall(rules.api_writes, head.method, head.target);
  if (!v.allowed) return Refuse(403, "github api", v.reason);
  return Pass("github api " + v.rule);
}

}  // namespace

Status CheckGithubRuleSpecs(const std::vector<std::string>& push,
                            const std::vector<std::string>& api_writes) {
  if (push.size() > kMaxGithubRules || api_writes.size() > kMaxGithubRules) {
    return Status(Code::kInvalidArgument, "at most " + std::to_string(kMaxGithubRules) +
                                              " --push and " + std::to_string(kMaxGithubRules) +
                                              " --api-write rules");
  }
  for (const auto& p : push) {
    if (auto r = ParsePushRule(p); !r.ok()) return r.status();
  }
  for (const auto& a : api_writes) {
    if (auto r = ParseApiWrite(a); !r.ok()) return r.status();
  }
  return Status::Ok();
}

net::HostClass GithubHostClass(std::string_view host) {
  if (host == "github.com") return HostClass::kGithubGit;
  if (host == "api.github.com") return HostClass::kGithubApi;
  if (host == "uploads.github.com") return HostClass::kGithubUploads;
  if (host == "gist.github.com" || host == "codeload.github.com" ||
      host == "objects.githubusercontent.com" || host == "raw.githubusercontent.com") {
    return HostClass::kGithubReadOnly;
  }
  return HostClass::kOther;
}

const std::vector<std::string>& GithubHosts() {
  static const std::vector<std::string> hosts = {"github.com",
                                                 "api.github.com",
                                                 "codeload.github.com",
                                                 "gist.github.com",
                                                 "uploads.github.com",
                                                 "objects.githubusercontent.com",
                                                 "raw.githubusercontent.com"};
  return hosts;
}

RequestOutcome ApplyGithubRules(HostClass c, const GithubRules& rules, const net::RequestHead& head,
                                net::BodyRule* body) {
  // A method other than the one checked must not reach a server that honours an override.
  for (const char* h : {"x-http-method-override", "x-http-method", "x-method-override"}) {
    if (!head.All(h).empty()) {
      return Refuse(400, "github", std::string("a method override (") + h + ") is refused");
    }
  }
  const std::string query = Loosely(Query(head.target));
  for (const char* at : {"&_method", ";_method"}) {
    if (((query.rfind("_method", 0) == 0) || query.find(at) != std::string::npos)) {
      return Refuse(400, "github", "a method override (_method=) is refused");
    }
  }
  // Form bodies could carry a _method= of their own; the API takes JSON.
  if (!IsRead(head.method)) {
    for (const auto& t : head.All("content-type")) {
      const std::string type = AsciiLower(t.substr(0, t.find(';')));
      if (type == "application/x-www-form-urlencoded" || type == "multipart/form-data") {
        if (c == HostClass::kGithubApi) {
          return Refuse(415, "github", "a form body to the GitHub API is refused (it takes JSON)");
        }
      }
    }
  }
  switch (c) {
    case HostClass::kGithubGit:
      return GitHost(rules, head, body);
    case HostClass::kGithubApi:
      return ApiHost(rules, head, body);
    case HostClass::kGithubUploads:
      return Refuse(403, "github uploads",
                    "uploads.github.com takes only uploads (release assets): refused");
    case HostClass::kGithubReadOnly:
      if (IsRead(head.method)) return Pass("github read");
      return Refuse(403, "github read-only",
                    head.method + " is refused: this GitHub host is read-only in a workspace");
    default:
      return Refuse(403, "github", "not a GitHub host");
  }
}

std::string ReceivePackRefusal(const PushCommands& commands,
                               const std::vector<PushVerdict>& verdicts,
                               const std::string& reason) {
  auto has = [&](const char* cap) {
    return std::find(commands.capabilities.begin(), commands.capabilities.end(), cap) !=
           commands.capabilities.end();
  };
  auto oneline = [](std::string s) {
    std::replace_if(
        s.begin(), s.end(), [](char c) { return c < 0x20 || c == 0x7f; }, ' ');
    return s.substr(0, 1000);
  };
  std::string body;
  if (has("report-status") || has("report-status-v2")) {
    std::string status = PktLine("unpack ok\n");
    for (size_t i = 0; i < commands.updates.size(); ++i) {
      const std::string why = verdicts[i].allowed
                                  ? "workspace: refused with the other refs of this push"
                                  : "workspace: " + oneline(verdicts[i].reason);
      status += PktLine("ng " + commands.updates[i].ref + " " + why + "\n");
    }
    status += "0000";
    if (has("side-band-64k") || has("side-band")) {
      const size_t max = has("side-band-64k") ? 65515 : 995;
      body += PktLine("\x02workspace: push refused: " + oneline(reason).substr(0, max - 30) + "\n");
      for (size_t at = 0; at < status.size(); at += max) {
        body += PktLine("\x01" + status.substr(at, max));
      }
      body += "0000";
    } else {
      body = status;
    }
  }
  if (body.empty()) return "";  // no report asked for: the plain refusal
  return "HTTP/1.1 200 OK\r\nContent-Type: application/x-git-receive-pack-result\r\n"
         "Cache-Control: no-cache\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace ws::github
