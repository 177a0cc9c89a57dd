// The GitHub API rules (host/github/api_rules.h): a GraphQL body and a REST
// call. Properties: never a crash (deep nesting is refused, not recursed
// into); a GraphQL body that passes with no rule passes with one; a body
// that passes with only createPullRequest listed passes with nothing but
// queries or that field; a REST write never passes without a rule.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/github/api_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ws::github;
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const std::vector<ApiWriteRule> rules = {
      ParseApiWrite("mutation createPullRequest").value(),
      ParseApiWrite("POST /repos/me/*/pulls").value()};
  if (data[0] & 1) {
    const ApiVerdict none = CheckGraphqlBody({}, in);
    const ApiVerdict listed = CheckGraphqlBody(rules, in);
    if (none.allowed && !listed.allowed) abort();
    if (none.allowed && none.rule != "query") abort();
    if (listed.allowed && listed.rule != "query" && listed.rule != "mutation createPullRequest")
      abort();
  } else {
    const size_t sp = in.find(' ');
    const std::string_view method = in.substr(0, sp);
    const std::string_view target = sp == std::string_view::npos ? "" : in.substr(sp + 1);
    if (method != "GET" && method != "HEAD" && CheckRestCall({}, method, target).allowed) abort();
    const ApiVerdict v = CheckRestCall(rules, method, target);
    if (v.allowed && method == "POST" && v.rule != "POST /repos/me/*/pulls") abort();
    (void)ParseApiWrite(in);
  }
  return 0;
}
