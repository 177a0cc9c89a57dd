// The GitHub rule set on whole requests, through the same filter and rules
// the interception uses: what goes on to the server, and what git reads.
#include "host/github/github_http.h"

#include <gtest/gtest.h>

#include "host/net/http_requests.h"

namespace ws::github {
namespace {

using net::BodyVerdict;
using net::HostClass;

const std::string kA(40, 'a'), kB(40, 'b'), kZero(40, '0');

struct Sent {
  bool ok = true;
  std::string out;  // what went on to the server
  net::Refusal refusal;
  std::vector<net::RequestOutcome> outcomes;
};

Sent Send(HostClass c, const GithubRules& rules, const std::string& host, const std::string& in) {
  net::HostPlan plan;
  plan.host = host;
  plan.host_class = c;
  plan.github = std::make_shared<GithubRules>(rules);
  Sent s;
  net::HttpRequestFilter f([&](net::RequestHead* head, net::BodyGate* gate) {
    net::BodyRule body;
    net::RequestOutcome o = net::ApplyRules(plan, head, &body);
    if (o.refusal.status != 0 || !body.check) {
      s.outcomes.push_back(o);
      return o.refusal;
    }
    gate->limit = body.limit;
    gate->check = [&s, o, check = body.check](std::string_view b, bool done,
                                              net::Refusal* r) mutable {
      const BodyVerdict v = check(b, done, &o);
      if (v != BodyVerdict::kNeedMore) s.outcomes.push_back(o);
      if (v == BodyVerdict::kRefuse) *r = o.refusal;
      return v;
    };
    return net::Refusal{};
  });
  // In pieces, as a network delivers them.
  for (size_t at = 0; at < in.size() && s.ok; at += 100) {
    s.ok = f.Feed(std::string_view(in).substr(at, 100), &s.out);
  }
  s.refusal = f.refusal();
  return s;
}

std::string Push(const std::string& repo, const std::vector<std::string>& commands,
                 const std::string& caps = "report-status side-band-64k") {
  std::string body;
  for (size_t i = 0; i < commands.size(); ++i) {
    body += PktLine(commands[i] + (i == 0 ? std::string("\0", 1) + caps : "") + "\n");
  }
  body += "0000PACK" + std::string(600, 'p');  // a pack past the command list
  return "POST /" + repo +
         ".git/git-receive-pack HTTP/1.1\r\nHost: github.com\r\nContent-Type: "
         "application/x-git-receive-pack-request\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

GithubRules MeProj() {
  GithubRules r;
  r.push.push_back(ParsePushRule("me/proj").value());
  return r;
}

TEST(GithubHttp, AListedPushToAnAgentBranchGoesOnWhole) {
  const std::string push = Push("me/proj", {kA + " " + kB + " refs/heads/agent/fix"});
  auto s = Send(HostClass::kGithubGit, MeProj(), "github.com", push);
  EXPECT_TRUE(s.ok) << s.refusal.reason;
  EXPECT_EQ(s.out, push);
  ASSERT_EQ(s.outcomes.size(), 1u);
  EXPECT_EQ(s.outcomes[0].rule, "github push me/proj:refs/heads/agent/*");
  EXPECT_EQ(s.outcomes[0].refs, std::vector<std::string>{kA + " " + kB + " refs/heads/agent/fix"});
}

TEST(GithubHttp, RefusedPushesSendNothingAndTellGitWhy) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> refused = {
      {"me/proj", {kA + " " + kB + " refs/heads/main"}},
      {"me/proj", {kZero + " " + kB + " refs/heads/shai-hulud"}},
      {"me/proj", {kZero + " " + kB + " refs/tags/v1"}},
      {"me/proj", {kA + " " + kZero + " refs/heads/agent/fix"}},
      {"me/proj", {kA + " " + kB + " refs/heads/agent/ok", kA + " " + kB + " refs/heads/main"}},
      {"me/other", {kA + " " + kB + " refs/heads/agent/fix"}},
  };
  for (const auto& [repo, cmds] : refused) {
    auto s = Send(HostClass::kGithubGit, MeProj(), "github.com", Push(repo, cmds));
    EXPECT_FALSE(s.ok) << repo << " " << cmds.back();
    EXPECT_EQ(s.out, "") << "a refused push sent bytes: " << cmds.back();
    EXPECT_EQ(s.refusal.status, 403);
    if (repo == "me/other") {
      EXPECT_NE(s.refusal.reason.find("--push me/other"), std::string::npos) << s.refusal.reason;
      continue;
    }
    const std::string answer = net::RefusalResponse(s.refusal);
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
    EXPECT_NE(answer.find("application/x-git-receive-pack-result"), std::string::npos);
    EXPECT_NE(answer.find("\x02workspace: push refused: "), std::string::npos) << answer;
    EXPECT_NE(answer.find("unpack ok\n"), std::string::npos);
    // Every ref of the push is reported "ng", the refused one with why.
    for (const auto& c : cmds) {
      const std::string ref = c.substr(82);
      EXPECT_NE(answer.find("ng " + ref + " workspace: "), std::string::npos) << answer;
    }
  }
  // Without report-status git asked for no report: a plain 403.
  auto plain = Send(HostClass::kGithubGit, MeProj(), "github.com",
                    Push("me/proj", {kA + " " + kB + " refs/heads/main"}, "agent=git/2"));
  EXPECT_EQ(net::RefusalResponse(plain.refusal).rfind("HTTP/1.1 403", 0), 0u);
}

TEST(GithubHttp, FetchesPassForAnyRepoAndOtherWritesDoNot) {
  const GithubRules rules = MeProj();
  auto get = [&](const std::string& target) {
    return Send(HostClass::kGithubGit, rules, "github.com",
                "GET " + target + " HTTP/1.1\r\nHost: github.com\r\n\r\n");
  };
  EXPECT_TRUE(get("/anyone/anything.git/info/refs?service=git-upload-pack").ok);
  EXPECT_TRUE(get("/me/proj.git/info/refs?service=git-receive-pack").ok);
  auto unlisted = get("/me/other.git/info/refs?service=git-receive-pack");
  EXPECT_FALSE(unlisted.ok);
  EXPECT_NE(unlisted.refusal.reason.find("--push me/other"), std::string::npos);
  const std::string fetch =
      "POST /anyone/anything.git/git-upload-pack HTTP/1.1\r\nHost: github.com\r\nContent-Length: "
      "4\r\n\r\n0000";
  auto f = Send(HostClass::kGithubGit, rules, "github.com", fetch);
  EXPECT_TRUE(f.ok);
  EXPECT_EQ(f.out, fetch);
  auto form = Send(HostClass::kGithubGit, rules, "github.com",
                   "POST /me/proj/settings HTTP/1.1\r\nHost: github.com\r\nContent-Length: "
                   "1\r\n\r\nx");
  EXPECT_FALSE(form.ok);
  EXPECT_EQ(form.out, "");
  // A compressed push cannot be read: refused.
  std::string gz = Push("me/proj", {kA + " " + kB + " refs/heads/agent/x"});
  gz.insert(gz.find("\r\n") + 2, "Content-Encoding: gzip\r\n");
  auto g = Send(HostClass::kGithubGit, rules, "github.com", gz);
  EXPECT_EQ(g.refusal.status, 415);
  EXPECT_EQ(g.out, "");
  // uploads.github.com takes nothing; gist.github.com only reads.
  EXPECT_FALSE(Send(HostClass::kGithubUploads, rules, "uploads.github.com",
                    "GET / HTTP/1.1\r\nHost: uploads.github.com\r\n\r\n")
                   .ok);
  EXPECT_TRUE(Send(HostClass::kGithubReadOnly, rules, "gist.github.com",
                   "GET /me HTTP/1.1\r\nHost: gist.github.com\r\n\r\n")
                  .ok);
  EXPECT_FALSE(Send(HostClass::kGithubReadOnly, rules, "gist.github.com",
                    "POST /me HTTP/1.1\r\nHost: gist.github.com\r\nContent-Length: 0\r\n\r\n")
                   .ok);
}

TEST(GithubHttp, GraphqlBodiesAreReadWholeBeforeAnyOfThemGoesOn) {
  GithubRules rules;
  rules.api_writes.push_back(ParseApiWrite("mutation createPullRequest").value());
  auto post = [&](const std::string& body) {
    return Send(HostClass::kGithubApi, rules, "api.github.com",
                "POST /graphql HTTP/1.1\r\nHost: api.github.com\r\nContent-Type: "
                "application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  auto query = post(R"({"query":"{ viewer { login } }"})");
  EXPECT_TRUE(query.ok);
  EXPECT_NE(query.out.find("viewer"), std::string::npos);
  auto pr = post(R"({"query":"mutation { createPullRequest(input: {}) { x } }"})");
  EXPECT_TRUE(pr.ok) << pr.refusal.reason;
  auto worm = post(R"({"query":"mutation { createRepository(input: {}) { x } }"})");
  EXPECT_FALSE(worm.ok);
  EXPECT_EQ(worm.out, "");
  EXPECT_NE(worm.refusal.reason.find("createRepository"), std::string::npos);
  auto rest = Send(HostClass::kGithubApi, rules, "api.github.com",
                   "POST /user/repos HTTP/1.1\r\nHost: api.github.com\r\nContent-Length: "
                   "2\r\n\r\n{}");
  EXPECT_FALSE(rest.ok);
  EXPECT_EQ(rest.out, "");
  EXPECT_TRUE(Send(HostClass::kGithubApi, rules, "api.github.com",
                   "GET /repos/me/proj HTTP/1.1\r\nHost: api.github.com\r\n\r\n")
                  .ok);
  // GraphQL read any other way, and a method said twice, are refused.
  const std::string mutation = R"({"query":"mutation { createRepository(input: {}) { x } }"})";
  for (const std::string& req : std::vector<std::string>{
           "POST /GraphQL HTTP/1.1\r\nHost: api.github.com\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
               std::to_string(mutation.size()) + "\r\n\r\n" + mutation,
           "POST /graphql.json HTTP/1.1\r\nHost: api.github.com\r\nContent-Length: 2\r\n\r\n{}",
           "POST /graphql?query=mutation%7BdeleteRepository%7D HTTP/1.1\r\nHost: "
           "api.github.com\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
           "GET /graphql?query=mutation%7Bx%7D HTTP/1.1\r\nHost: api.github.com\r\n\r\n",
           "POST /graphql HTTP/1.1\r\nHost: api.github.com\r\nContent-Type: "
           "application/x-www-form-urlencoded\r\nContent-Length: 2\r\n\r\n{}",
           "POST /repos/me/proj/pulls HTTP/1.1\r\nHost: api.github.com\r\nX-HTTP-Method-Override: "
           "DELETE\r\nContent-Length: 0\r\n\r\n",
           "POST /repos/me/proj/pulls?_method=DELETE HTTP/1.1\r\nHost: "
           "api.github.com\r\nContent-Length: 0\r\n\r\n",
           "POST /repos/me/proj/pulls?x=1;%5Fmethod=DELETE HTTP/1.1\r\nHost: "
           "api.github.com\r\nContent-Length: 0\r\n\r\n",
           "POST /repos/me/proj/pulls HTTP/1.1\r\nHost: api.github.com\r\nContent-Type: "
           "application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\n_method=DELETE",
           "GET //graphql?query=mutation%7Bx%7D HTTP/1.1\r\nHost: api.github.com\r\n\r\n",
           "GET /%67raphql?query=mutation%7Bx%7D HTTP/1.1\r\nHost: api.github.com\r\n\r\n"}) {
    GithubRules wide = rules;
    wide.api_writes.push_back(ParseApiWrite("POST /**").value());
    wide.api_writes.push_back(ParseApiWrite("POST /repos/me/proj/pulls").value());
    auto r = Send(HostClass::kGithubApi, wide, "api.github.com", req);
    EXPECT_FALSE(r.ok) << req;
    EXPECT_EQ(r.out, "") << req;
  }
}

}  // namespace
}  // namespace ws::github
