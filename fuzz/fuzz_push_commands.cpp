// A git push's command list (host/github/push_commands.h) and the push
// rules (push_rules.h). Properties: never a crash; a list is complete at
// one length only: every shorter prefix needs more, and the whole input
// reads the same updates and length as that prefix (what is checked is
// what goes on); every update read is one git would take (old and new ids
// of one kind, a ref under refs/); the rules' verdict never allows a ref
// they do not match.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/github/push_commands.h"
#include "host/github/push_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ws::github::PushCommands whole;
  const ws::github::ParseState st = ws::github::ParsePushCommands(in, &whole);
  if (st == ws::github::ParseState::kComplete) {
    if (whole.length == 0 || whole.length > in.size() || whole.updates.empty()) abort();
    ws::github::PushCommands prefix;
    if (ws::github::ParsePushCommands(in.substr(0, whole.length), &prefix) !=
        ws::github::ParseState::kComplete)
      abort();
    if (prefix.updates.size() != whole.updates.size() || prefix.length != whole.length) abort();
    if (whole.length > 0) {
      ws::github::PushCommands shorter;
      if (ws::github::ParsePushCommands(in.substr(0, whole.length - 1), &shorter) ==
          ws::github::ParseState::kComplete)
        abort();
    }
    const std::vector<ws::github::PushRule> rules = {
        ws::github::ParsePushRule("me/proj").value(),
        ws::github::ParsePushRule("me/proj:v*").value()};
    for (const auto& u : whole.updates) {
      if (u.old_oid.size() != u.new_oid.size() || u.ref.rfind("refs/", 0) != 0) abort();
      const auto v = ws::github::CheckRefUpdate(rules, "me/proj", u);
      if (v.allowed && u.ref.rfind("refs/heads/agent/", 0) != 0 &&
          u.ref.rfind("refs/heads/workspace/", 0) != 0 && u.ref.rfind("refs/heads/v", 0) != 0)
        abort();
      if (ws::github::CheckRefUpdate(rules, "me/other", u).allowed) abort();
    }
  }
  (void)ws::github::ParseGitPath(in);
  return 0;
}
