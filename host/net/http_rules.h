// The rules an intercepted request is held to, per host class, and the
// secret substitution: pure functions over one request head (and a
// response scrubber), so they are unit-tested and fuzzed apart from TLS.
//
//   - every request names the host the connection was allowed to (Host, and
//     the authority of an absolute URL): else 421;
//   - a package registry is read-only unless the user allowed writes: only
//     GET and HEAD pass (npm publish, twine upload, any PUT/POST: 403);
//   - an AI API host takes requests only through a binding: the binding's
//     header must hold the placeholder (in the binding's format) and no
//     other credential may ride along (Authorization, x-api-key, api-key,
//     x-goog-api-key, Proxy-Authorization, Cookie, a key= query value):
//     else 403 "foreign credential", so a worm's own key uploads nothing;
//     with no binding for the host, 403 naming the command that adds one;
//   - a binding's placeholder becomes the real value only in that header,
//     in that format, on that host; nowhere else is anything replaced.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "host/net/http_requests.h"

namespace ws::github {
struct GithubRules;
}

namespace ws::net {

// kGithub*: the GitHub rule set (host/github/github_http.h).
enum class HostClass {
  kOther,
  kAiApi,
  kRegistry,
  kGithubGit,
  kGithubApi,
  kGithubReadOnly,
  kGithubUploads
};
bool IsGithubClass(HostClass c);
const char* HostClassName(HostClass c);

// The public package registries (npm, PyPI, Debian) a workspace reads from
// and, allowed directly, must not publish to: writes there are uploads.
// `allow --writes` lifts that for one host of one workspace.
bool IsPackageRegistryHost(std::string_view host);
std::string PackageRegistryHostList();  // "registry.npmjs.org, ..." for messages

struct Binding {
  std::string secret;       // the secret's name, for the audit
  std::string header;       // where it goes, e.g. "x-api-key", "Authorization"
  std::string format;       // the header's value around "{}", e.g. "Bearer {}"
  std::string placeholder;  // what the guest holds
  std::string value;        // the real secret: host memory only, never logged
};

// How one host's requests are handled.
struct HostPlan {
  std::string host;  // normalized name the connection was allowed to
  uint16_t port = 443;
  HostClass host_class = HostClass::kOther;
  std::vector<Binding> bindings;                      // the ones bound to this host
  bool writes_allowed = false;                        // a registry: methods beyond GET/HEAD
  std::shared_ptr<const github::GithubRules> github;  // a GitHub class: its rules
  // Sees what the guest sends on the connection (each request's head as
  // sent, then its body, with the request's "METHOD /path" for the record);
  // a non-empty answer refuses the request with 403 (a decoy credential in
  // it: issue #23). Null: none. Set per connection by the relay.
  std::function<std::string(std::string_view bytes, const std::string& request)> watch;
};

// What happened to one request, for the audit line (no header value, no
// secret in any field).
struct RequestOutcome {
  Refusal refusal;      // status 0: passed on
  std::string rule;     // which rule decided: "host", "read-only", "foreign credential", ...
  std::string binding;  // the secret injected or expected, "" when none
  bool injected = false;
  std::vector<std::string> refs;  // a push: "OLD NEW REF" per ref update
};

// A rule that must read the request's body before it goes on: `check` sees
// the body as it comes and sets the outcome's rule, refs and refusal.
struct BodyRule {
  size_t limit = 0;
  std::function<BodyVerdict(std::string_view body, bool complete, RequestOutcome* outcome)> check;
};

// Applies the plan's rules to `head` and substitutes its binding in place.
// `body` (may be null: then a rule that needs the body refuses) is set when
// the request's body must be read before it goes on.
RequestOutcome ApplyRules(const HostPlan& plan, RequestHead* head, BodyRule* body = nullptr);

// "/path?a=-&b=-": the path with every query value blanked (names kept).
std::string PathForAudit(std::string_view target);

// Replaces every occurrence of the secrets' real values in a byte stream by
// their placeholders, padded with '*' or cut to the value's length (the
// framing of what carries it stays right). Holds back only the bytes that
// could still begin a value, so streams (SSE) pass as they come.
class Scrubber {
 public:
  explicit Scrubber(std::vector<std::pair<std::string, std::string>> value_to_placeholder);
  // Appends to *out what can go on; counts replacements.
  void Feed(std::string_view in, std::string* out);
  // At the end of the stream: what was held back.
  void Flush(std::string* out);
  int replaced() const { return replaced_; }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;  // value, same-length stand-in
  std::string held_;
  int replaced_ = 0;
};

}  // namespace ws::net
