// The GitHub rule set (issue #22) applied to one intercepted request: what
// each GitHub host may be asked, and the push and API rules the user set
// (`workspace allow NAME github --push ... --api-write ...`).
//
//   github.com (git): info/refs and git-upload-pack for any repository
//     (clone, fetch); git-receive-pack only to a listed repository, and
//     only once its command list has been read and every ref update passed
//     the push rules (a refused push is answered in git's own report, and
//     nothing of it goes on); other reads pass, other writes are refused.
//   api.github.com: REST and GraphQL by api_rules.h (a GraphQL body is
//     read whole first).
//   uploads.github.com: refused (it takes only uploads).
//   gist.github.com, codeload.github.com, *.githubusercontent.com: reads only.
#pragma once

#include <string_view>
#include <vector>

#include "host/github/api_rules.h"
#include "host/github/push_rules.h"
#include "host/net/http_rules.h"

namespace ws::github {

struct GithubRules {
  std::vector<PushRule> push;
  std::vector<ApiWriteRule> api_writes;
};

// Most --push and --api-write rules one workspace keeps, each.
inline constexpr size_t kMaxGithubRules = 64;

// The rule set's lists as given (push specs, api-write specs), checked:
// kInvalidArgument says which is wrong, or that there are too many.
Status CheckGithubRuleSpecs(const std::vector<std::string>& push,
                            const std::vector<std::string>& api_writes);

// The host class a GitHub host name has (kOther when it is none).
net::HostClass GithubHostClass(std::string_view host);
// Every host the rule set covers, for `allow NAME github`.
const std::vector<std::string>& GithubHosts();

// Applies the rule set to a request to a host of class `c`; `body` is set
// when the request's body must be read first.
net::RequestOutcome ApplyGithubRules(net::HostClass c, const GithubRules& rules,
                                     const net::RequestHead& head, net::BodyRule* body);

// The answer git reads for a refused push: report-status with each ref
// "ng" and why, the reason on side band 2 when the client asked for it.
std::string ReceivePackRefusal(const PushCommands& commands,
                               const std::vector<PushVerdict>& verdicts, const std::string& reason);

}  // namespace ws::github
