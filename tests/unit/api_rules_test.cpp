#include "host/github/api_rules.h"

#include <gtest/gtest.h>

namespace ws::github {
namespace {

std::vector<ApiWriteRule> Rules(const std::vector<std::string>& specs) {
  std::vector<ApiWriteRule> out;
  for (const auto& s : specs) {
    auto r = ParseApiWrite(s);
    EXPECT_TRUE(r.ok()) << s << ": " << r.status().message();
    if (r.ok()) out.push_back(r.value());
  }
  return out;
}

TEST(ApiWrite, ParsesMethodsPathsAndMutations) {
  auto pulls = ParseApiWrite("POST /repos/Me/Proj/pulls");
  ASSERT_TRUE(pulls.ok());
  EXPECT_EQ(pulls->ToString(), "POST /repos/me/proj/pulls");
  auto m = ParseApiWrite("mutation createPullRequest");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->target, "createPullRequest");
  for (const char* bad :
       {"", "POST", "post /repos/x", "GET /repos/me/proj", "POST repos/me", "POST /repos/%2e%2e/x",
        "POST /repos/../x", "POST /repos//x", "POST /repos/me/pr*j", "POST /repos/**/x",
        "POST /graphql", "mutation create-pr", "mutation ", "POST /repos/me?x=1",
        "POST /repos/me\\proj"}) {
    EXPECT_FALSE(ParseApiWrite(bad).ok()) << bad;
  }
}

TEST(RestCalls, ReadsPassAndWritesNeedARule) {
  const auto none = Rules({});
  EXPECT_TRUE(CheckRestCall(none, "GET", "/repos/me/proj?per_page=100").allowed);
  EXPECT_TRUE(CheckRestCall(none, "HEAD", "/user").allowed);
  auto post = CheckRestCall(none, "POST", "/repos/me/proj/pulls");
  EXPECT_FALSE(post.allowed);
  EXPECT_NE(post.reason.find("--api-write 'POST /repos/me/proj/pulls'"), std::string::npos)
      << post.reason;

  const auto rules = Rules({"POST /repos/me/proj/pulls", "PATCH /repos/me/proj/pulls/*",
                            "PUT /repos/me/proj/issues/**"});
  auto ok = CheckRestCall(rules, "POST", "/repos/ME/proj/pulls");
  EXPECT_TRUE(ok.allowed) << ok.reason;
  EXPECT_EQ(ok.rule, "POST /repos/me/proj/pulls");
  EXPECT_TRUE(CheckRestCall(rules, "PATCH", "/repos/me/proj/pulls/7").allowed);
  EXPECT_FALSE(CheckRestCall(rules, "PATCH", "/repos/me/proj/pulls/7/x").allowed);
  EXPECT_FALSE(CheckRestCall(rules, "POST", "/repos/me/other/pulls").allowed);
  EXPECT_FALSE(CheckRestCall(rules, "PUT", "/repos/me/proj/pulls").allowed) << "method differs";
  EXPECT_TRUE(CheckRestCall(rules, "PUT", "/repos/me/proj/issues/3/lock").allowed);
  EXPECT_FALSE(CheckRestCall(rules, "PUT", "/repos/me/proj/issues").allowed) << "** needs one";
  // Paths a server could read another way than the rule.
  for (const char* odd :
       {"/repos/me/proj/pulls/../../other/pulls", "/repos/me/proj//pulls", "/repos/me/proj/pull%73",
        "/repos/me/proj/pulls/", "/repos/me/proj\\x", "/repos/me/proj/pulls;x"}) {
    EXPECT_FALSE(CheckRestCall(rules, "POST", odd).allowed) << odd;
  }
}

// The calls the Shai-Hulud worms publish and persist with: refused with no
// rule, and not let through by a wildcard rule that would otherwise match.
TEST(RestCalls, WormCallsNeedARuleNamingThemExactly) {
  const auto wide = Rules({"POST /**", "PUT /**", "PATCH /**", "DELETE /**"});
  const std::vector<std::pair<std::string, std::string>> worm = {
      {"POST", "/user/repos"},
      {"POST", "/orgs/acme/repos"},
      {"POST", "/repos/me/tmpl/generate"},
      {"POST", "/repos/me/proj/forks"},
      {"PATCH", "/repos/me/proj"},
      {"DELETE", "/repos/me/proj"},
      {"POST", "/repos/me/proj/actions/runners/registration-token"},
      {"POST", "/orgs/acme/actions/runners/registration-token"},
      {"POST", "/repos/me/proj/actions/workflows/ci.yml/dispatches"},
      {"POST", "/repos/me/proj/dispatches"},
      {"PUT", "/repos/me/proj/actions/secrets/NPM_TOKEN"},
      {"POST", "/repos/me/proj/actions/variables"},
      {"POST", "/repos/me/proj/keys"},
      {"POST", "/user/keys"},
      {"POST", "/repos/me/proj/hooks"},
      {"PUT", "/repos/me/proj/collaborators/evil"},
      {"POST", "/gists"},
      {"PATCH", "/gists/abc"},
      // Writes that change refs or settings around the push rules.
      {"DELETE", "/repos/me/proj/git/refs/heads/main"},
      {"PATCH", "/repos/me/proj/git/refs/heads/main"},
      {"POST", "/repos/me/proj/git/refs"},
      {"PUT", "/repos/me/proj/contents/.github/workflows/x.yml"},
      {"POST", "/repos/me/proj/merges"},
      {"PUT", "/repos/me/proj/pulls/1/merge"},
      {"POST", "/repos/me/proj/releases"},
      {"PUT", "/repos/me/proj/branches/main/protection"},
      {"POST", "/repos/me/proj/rulesets"},
      {"POST", "/repos/me/proj/codespaces"},
      {"POST", "/repos/me/proj/actions/runs/1/rerun"},
      {"POST", "/repos/me/proj/deployments"},
      {"POST", "/user/migrations"},
      {"PATCH", "/repositories/123"},
      {"POST", "/repos/me/proj/hooks.json"},
      {"POST", "/repos/me/proj/forks.json"},
      {"POST", "/repos/me/proj/merge-upstream"},
      {"POST", "/orgs/acme/rulesets"},
      {"POST", "/repos/me/proj/statuses/abc"},
  };
  for (const auto& [method, path] : worm) {
    EXPECT_FALSE(CheckRestCall({}, method, path).allowed) << method << " " << path;
    auto wild = CheckRestCall(wide, method, path);
    EXPECT_FALSE(wild.allowed) << method << " " << path;
    EXPECT_NE(wild.reason.find("exact path"), std::string::npos) << wild.reason;
    // The exact rule (what a user who means it writes) lets it through.
    auto exact = Rules({method + " " + path});
    EXPECT_TRUE(CheckRestCall(exact, method, path).allowed) << method << " " << path;
  }
  // Control: the wide rules do allow an ordinary write.
  EXPECT_TRUE(CheckRestCall(wide, "POST", "/repos/me/proj/issues/1/comments").allowed);
  // The contents PUT of the corpus: refused without a rule.
  EXPECT_FALSE(CheckRestCall({}, "PUT", "/repos/me/proj/contents/data.json").allowed);
}

std::string Gql(const std::string& query) {
  std::string escaped;
  for (char c : query) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return "{\"query\":\"" + escaped + "\",\"variables\":{}}";
}

TEST(Graphql, QueriesPassAndMutationsNeedTheirRootField) {
  const auto none = Rules({});
  for (const char* q :
       {"{ viewer { login } }", "query { repository(owner:\"me\", name:\"p\") { id } }",
        "query Q($n: Int = 3) @x { viewer { repositories(first: $n) { nodes { name } } } }",
        "# comment\nquery { a: viewer { login } }"}) {
    auto v = CheckGraphqlBody(none, Gql(q));
    EXPECT_TRUE(v.allowed) << q << ": " << v.reason;
  }
  auto pr =
      Gql("mutation { createPullRequest(input: {repositoryId: \"R\", title: \"t\"}) { "
          "pullRequest { url } } }");
  auto denied = CheckGraphqlBody(none, pr);
  EXPECT_FALSE(denied.allowed);
  EXPECT_NE(denied.reason.find("--api-write 'mutation createPullRequest'"), std::string::npos)
      << denied.reason;
  const auto rules = Rules({"mutation createPullRequest"});
  auto allowed = CheckGraphqlBody(rules, pr);
  EXPECT_TRUE(allowed.allowed) << allowed.reason;
  EXPECT_EQ(allowed.rule, "mutation createPullRequest");
}

// The worm's GraphQL, and every way to hide a mutation among allowed
// parts: a listed field does not carry an unlisted one.
TEST(Graphql, HiddenMutationsAreFound) {
  const auto rules = Rules({"mutation createPullRequest"});
  const std::vector<std::string> bodies = {
      Gql("mutation { createRepository(input: {name: \"s1ha1hulud\", visibility: PUBLIC}) { "
          "repository { url } } }"),
      Gql("mutation M { createCommitOnBranch(input: {}) { commit { url } } }"),
      Gql("mutation { pr: createPullRequest(input: {}) { clientMutationId } createRepository: "
          "createPullRequest(input: {}) { x } evil: createRepository(input: {}) { x } }"),
      Gql("mutation { createPullRequest(input: {}) { x } } mutation B { updateRepository(input: "
          "{}) { x } }"),
      Gql("query A { viewer { login } } mutation B { createRepository(input: {}) { x } }"),
      Gql("mutation { ...F } fragment F on Mutation { createRepository(input: {}) { x } }"),
      Gql("mutation { ... on Mutation { createRepository(input: {}) { x } } }"),
      Gql("mutation { ...Missing }"),
      Gql("mutation { ...A } fragment A on Mutation { ...A }"),
      Gql("subscription { x }"),
      "[" + Gql("{ viewer { login } }") + "," +
          Gql("mutation { createRepository(input: {}) { x } }") + "]",
      R"({"query":"{ viewer { login } }","query":"mutation { createRepository(input: {}) { x } }"})",
      R"({"operationName":"x","extensions":{"persistedQuery":{"sha256Hash":"abc"}}})",
      R"({"query":"mutation { createRepository(input: {}) { x } }" )",
      Gql("mutation { createPullRequest(input: {}) { x } "),
      Gql("type Mutation { x: Int }"),
      Gql("mutation { createPullRequest(input: \"unterminated) { x } }"),
      "[]",
      "\"just a string\"",
  };
  for (const auto& b : bodies) {
    auto v = CheckGraphqlBody(rules, b);
    EXPECT_FALSE(v.allowed) << b;
    EXPECT_FALSE(v.reason.empty()) << b;
  }
  // Controls: the same shapes with only the listed field pass.
  for (const auto& b :
       {Gql("mutation { a: createPullRequest(input: {}) { x } __typename }"),
        Gql("mutation { ...F } fragment F on Mutation { createPullRequest(input: {}) { x } }"),
        Gql("mutation { ... on Mutation { createPullRequest(input: {}) { x } } }"),
        "[" + Gql("{ viewer { login } }") + "," + Gql("mutation { createPullRequest { x } }") + "]",
        Gql("mutation { createPullRequest(input: {body: \"\"\"a \\\"\"\" mutation { b }\"\"\"}) "
            "{ x } }")}) {
    auto v = CheckGraphqlBody(rules, b);
    EXPECT_TRUE(v.allowed) << b << ": " << v.reason;
  }
}

TEST(Graphql, DeepAndHugeDocumentsAreRefusedNotFollowed) {
  // Fragments spreading each other twice: 2^40 walks if each were followed
  // every time; read at once (each fragment once), never hung.
  std::string laughs = "mutation { ...A0 } ";
  for (int i = 0; i < 40; ++i) {
    laughs += "fragment A" + std::to_string(i) + " on Mutation { ...A" + std::to_string(i + 1) +
              " ...A" + std::to_string(i + 1) + " } ";
  }
  laughs += "fragment A40 on Mutation { createPullRequest { x } }";
  const auto pr = Rules({"mutation createPullRequest"});
  EXPECT_TRUE(CheckGraphqlBody(pr, Gql(laughs)).allowed) << "each fragment walked once";
  laughs.replace(laughs.rfind("createPullRequest"), 17, "createRepository");
  EXPECT_FALSE(CheckGraphqlBody(pr, Gql(laughs)).allowed);
  std::string chain = "mutation { ...A0 } ";
  for (int i = 0; i < 70; ++i) {
    chain +=
        "fragment A" + std::to_string(i) + " on Mutation { ...A" + std::to_string(i + 1) + " } ";
  }
  chain += "fragment A70 on Mutation { createPullRequest { x } }";
  EXPECT_FALSE(CheckGraphqlBody(pr, Gql(chain)).allowed) << "64 levels at most";
  EXPECT_FALSE(CheckGraphqlBody(pr, std::string(500000, '[') + std::string(500000, ']')).allowed);
  std::string deep = "{ a ";
  for (int i = 0; i < 10000; ++i) deep += "{ a ";
  EXPECT_FALSE(CheckGraphqlBody({}, Gql(deep)).allowed);
  std::string list = "{ a(x: ";
  for (int i = 0; i < 10000; ++i) list += "[";
  EXPECT_FALSE(CheckGraphqlBody({}, Gql(list)).allowed);
  EXPECT_FALSE(CheckGraphqlBody({}, std::string(kMaxGraphqlBody + 1, ' ')).allowed);
}

}  // namespace
}  // namespace ws::github
