#include "host/net/http_rules.h"

#include <algorithm>
#include <cctype>

#include "host/common/ascii.h"
#include "host/github/github_http.h"
#include "host/net/address.h"
#include "host/net/policy.h"
#include "host/net/tunnel_guard.h"

namespace ws::net {
namespace {

// Headers that carry a credential to an AI API (any case).
constexpr std::string_view kCredentialHeaders[] = {
    "authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization", "cookie"};
// Query parameters that do.
constexpr std::string_view kCredentialParams[] = {"key", "api_key", "apikey", "access_token",
                                                  "token"};

std::string Fill(const std::string& format, const std::string& v) {
  std::string out = format;
  const size_t at = out.find("{}");
  if (at == std::string::npos) return v;
  return out.replace(at, 2, v);
}

// A query name as a server reads it: %XX decoded, '+' a space.
std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The query's parameter names, lower-cased.
std::vector<std::string> QueryNames(std::string_view target) {
  std::vector<std::string> names;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return names;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    names.push_back(AsciiLower(PercentDecode(pair.substr(0, pair.find('=')))));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return names;
}

RequestOutcome Refused(int status, std::string rule, std::string reason, std::string binding = "") {
  RequestOutcome o;
  o.refusal = {status, std::move(reason)};
  o.rule = std::move(rule);
  o.binding = std::move(binding);
  return o;
}

}  // namespace

constexpr std::string_view kPackageRegistryHosts[] = {
    "registry.npmjs.org",     "registry.yarnpkg.com", "pypi.org",           "upload.pypi.org",
    "files.pythonhosted.org", "deb.debian.org",       "security.debian.org"};

bool IsPackageRegistryHost(std::string_view host) {
  for (std::string_view h : kPackageRegistryHosts) {
    if (host == h) return true;
  }
  return false;
}

std::string PackageRegistryHostList() {
  std::string out;
  for (std::string_view h : kPackageRegistryHosts)
    out += (out.empty() ? "" : ", ") + std::string(h);
  return out;
}

bool IsGithubClass(HostClass c) {
  return c == HostClass::kGithubGit || c == HostClass::kGithubApi ||
         c == HostClass::kGithubReadOnly || c == HostClass::kGithubUploads;
}

const char* HostClassName(HostClass c) {
  switch (c) {
    case HostClass::kGithubGit:
      return "github";
    case HostClass::kGithubApi:
      return "github-api";
    case HostClass::kGithubReadOnly:
      return "github-read-only";
    case HostClass::kGithubUploads:
      return "github-uploads";
    case HostClass::kAiApi:
      return "ai-api";
    case HostClass::kRegistry:
      return "registry";
    case HostClass::kOther:
      break;
  }
  return "other";
}

std::string PathForAudit(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view rest = target.substr(q + 1);
  bool first = true;
  while (true) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    if (!first) out += '&';
    first = false;
    const size_t eq = pair.find('=');
    out += pair.substr(0, eq);
    if (eq != std::string_view::npos) out += "=-";
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

RequestOutcome ApplyRules(const HostPlan& plan, RequestHead* head, BodyRule* body) {
  const bool ai = plan.host_class == HostClass::kAiApi;
  // The host the connection was allowed to, and no other.
  if (!head->authority.empty() && !AuthorityIsHost(head->authority, plan.host, plan.port)) {
    return Refused(421, "host",
                   "'" + head->authority.substr(0, 255) + "' is not " + plan.host +
                       ", the host this connection was allowed to");
  }
  const auto hosts = head->All("host");
  if (hosts.empty()) {
    head->headers.push_back({"Host", plan.host});
  } else if (!AuthorityIsHost(hosts.front(), plan.host, plan.port)) {
    return Refused(421, "host",
                   "Host '" + hosts.front().substr(0, 255) + "' is not " + plan.host +
                       ", the host this connection was allowed to");
  }
  if (plan.host_class == HostClass::kRegistry && !plan.writes_allowed && head->method != "GET" &&
      head->method != "HEAD") {
    return Refused(403, "read-only",
                   head->method + " to the package registry " + plan.host +
                       " is refused: registries are read-only in a workspace (publishing is "
                       "an upload)");
  }
  RequestOutcome o;
  o.rule = ai ? "ai-api" : HostClassName(plan.host_class);
  if (IsGithubClass(plan.host_class)) {
    static const github::GithubRules kNone;
    BodyRule local;
    o = github::ApplyGithubRules(plan.host_class, plan.github ? *plan.github : kNone, *head,
                                 body ? body : &local);
    if (!body && local.check) {
      return Refused(500, "github",
                     "a request whose body must be read first, on a path that "
                     "cannot read it");
    }
    if (o.refusal.status != 0) return o;
  }
  // The binding whose header holds its placeholder; checked before anything is replaced.
  const Binding* match = nullptr;
  for (const Binding& b : plan.bindings) {
    const auto values = head->All(b.header);
    if (values.size() > 1) {
      return Refused(400, "credential", "more than one " + b.header + " header", b.secret);
    }
    if (values.empty()) continue;
    if (values.front() == Fill(b.format, b.placeholder)) {
      if (!match) match = &b;
      continue;
    }
    if (ai) {
      return Refused(403, "foreign credential",
                     "a credential that is not the workspace's placeholder for " + b.secret +
                         " in " + b.header + " (the host injects the real one)",
                     b.secret);
    }
  }
  const std::string injected_header = match ? AsciiLower(match->header) : "";
  if (match) o.binding = match->secret;
  if (ai) {
    if (plan.bindings.empty()) {
      return Refused(403, "no binding",
                     "no secret is bound to " + plan.host +
                         " in this workspace: add one on the host with `workspace secret add "
                         "NAME --host " +
                         plan.host +
                         " ...` and bind it with `workspace secret bind WORKSPACE NAME`");
    }
    if (!match) {
      return Refused(403, "foreign credential",
                     "a request to " + plan.host +
                         " without the workspace's placeholder (the host injects the real key)",
                     plan.bindings.front().secret);
    }
    for (std::string_view name : kCredentialHeaders) {
      if (name != injected_header && !head->All(name).empty()) {
        return Refused(403, "foreign credential",
                       "a second credential (" + std::string(name) + ") beside the placeholder",
                       o.binding);
      }
    }
    for (const auto& param : QueryNames(head->target)) {
      if (std::find(std::begin(kCredentialParams), std::end(kCredentialParams), param) !=
          std::end(kCredentialParams)) {
        return Refused(403, "foreign credential",
                       "a credential in the query (" + param + "=) beside the placeholder",
                       o.binding);
      }
    }
  }
  if (match) {
    for (auto& h : head->headers) {
      if (AsciiLower(h.name) == injected_header) h.value = Fill(match->format, match->value);
    }
    o.injected = true;
    // The answer comes back whole and uncompressed, so a reflected secret
    // is seen: no compression, no ranges, no transfer codings asked for.
    head->headers.erase(std::remove_if(head->headers.begin(), head->headers.end(),
                                       [](const HttpHeader& h) {
                                         const std::string n = AsciiLower(h.name);
                                         return n == "accept-encoding" || n == "range" ||
                                                n == "if-range" || n == "te";
                                       }),
                        head->headers.end());
    head->headers.push_back({"Accept-Encoding", "identity"});
  }
  return o;
}

Scrubber::Scrubber(std::vector<std::pair<std::string, std::string>> pairs) {
  for (auto& [value, placeholder] : pairs) {
    if (value.empty()) continue;
    std::string standin = placeholder.substr(0, value.size());
    standin.resize(value.size(), '*');
    pairs_.emplace_back(std::move(value), std::move(standin));
  }
}

void Scrubber::Feed(std::string_view in, std::string* out) {
  held_.append(in);
  for (const auto& [value, standin] : pairs_) {
    for (size_t at = held_.find(value); at != std::string::npos;
         at = held_.find(value, at + value.size())) {
      held_.replace(at, value.size(), standin);
      ++replaced_;
    }
  }
  // Hold back the longest tail that could begin a value.
  size_t hold = 0;
  for (const auto& [value, standin] : pairs_) {
    for (size_t k = std::min(value.size() - 1, held_.size()); k > hold; --k) {
      if (held_.compare(held_.size() - k, k, value, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  out->append(held_, 0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
}

void Scrubber::Flush(std::string* out) {
  out->append(held_);
  held_.clear();
}

}  // namespace ws::net
