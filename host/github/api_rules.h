// Which GitHub API calls a workspace may make (issue #22): reads, and the
// writes the user listed with `--api-write`. Pure.
//
// REST (api.github.com): GET and HEAD pass. Any other method passes only
// where a rule "METHOD PATH_GLOB" matches (`*` is one path segment, a
// trailing `**` the rest; owner and repository names compare without
// case). The calls a worm publishes with — creating, forking or deleting a
// repository, changing its settings or visibility, registering a runner,
// dispatching a workflow, secrets and variables, deploy and user keys,
// webhooks, collaborators, gists — pass only where a rule names them
// exactly, without a wildcard. A write whose path is not plain (percent
// escapes, "..", "//", a backslash) is refused.
//
// GraphQL (POST /graphql): the body is read with a JSON parser and each
// query document with a GraphQL parser (batched requests, every operation
// in a document, aliases, fragments at the root resolved). Queries pass; a
// mutation passes only when each of its root fields is listed ("mutation
// createPullRequest"); subscriptions, persisted queries (no query text)
// and whatever cannot be read are refused.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "host/common/status.h"

namespace ws::github {

struct ApiWriteRule {
  std::string method;  // "POST", or "mutation" for a GraphQL root field
  std::string target;  // "/repos/me/proj/pulls" (lower case), or "createPullRequest"
  std::string ToString() const { return method + " " + target; }
};

// "METHOD /PATH_GLOB" or "mutation FIELD"; kInvalidArgument says what is wrong.
Result<ApiWriteRule> ParseApiWrite(std::string_view spec);

struct ApiVerdict {
  bool allowed = false;
  std::string rule;    // what allowed it ("read", "POST /repos/me/proj/pulls", "query")
  std::string reason;  // why not
};

// A REST call (`target` may carry a query; it is not looked at).
ApiVerdict CheckRestCall(const std::vector<ApiWriteRule>& rules, std::string_view method,
                         std::string_view target);

// The body of POST /graphql, whole.
ApiVerdict CheckGraphqlBody(const std::vector<ApiWriteRule>& rules, std::string_view body);

// The largest GraphQL body read (a bigger one is refused).
inline constexpr size_t kMaxGraphqlBody = 1024 * 1024;

}  // namespace ws::github
