#include "host/github/push_commands.h"

#include <gtest/gtest.h>

#include "host/github/push_rules.h"

namespace ws::github {
namespace {

const std::string kA(40, 'a'), kB(40, 'b'), kZero(40, '0');

std::string Commands(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    out +=
        PktLine(lines[i] + (i == 0 ? std::string("\0report-status side-band-64k", 28) : "") + "\n");
  }
  return out + "0000";
}

TEST(PushCommands, ReadsEveryUpdateAndWhereThePackBegins) {
  const std::string body =
      Commands({kA + " " + kB + " refs/heads/agent/fix", kZero + " " + kB + " refs/tags/v1",
                kA + " " + kZero + " refs/heads/old"}) +
      "PACK\x00\x00\x00\x02";
  PushCommands c;
  ASSERT_EQ(ParsePushCommands(body, &c), ParseState::kComplete) << c.error;
  ASSERT_EQ(c.updates.size(), 3u);
  EXPECT_EQ(c.updates[0].ref, "refs/heads/agent/fix");
  EXPECT_FALSE(c.updates[0].creates());
  EXPECT_TRUE(c.updates[1].creates());
  EXPECT_TRUE(c.updates[2].deletes());
  EXPECT_EQ(c.capabilities, (std::vector<std::string>{"report-status", "side-band-64k"}));
  EXPECT_EQ(body.substr(c.length, 4), "PACK");
  // Every shorter prefix asks for more; none is taken as a whole list.
  for (size_t n = 0; n < c.length; ++n) {
    PushCommands part;
    EXPECT_EQ(ParsePushCommands(std::string_view(body).substr(0, n), &part), ParseState::kNeedMore)
        << n;
  }
}

TEST(PushCommands, ShallowLinesAndSha256IdsAreTaken) {
  const std::string a(64, 'a'), b(64, 'b');
  PushCommands c;
  ASSERT_EQ(
      ParsePushCommands(
          PktLine("shallow " + kA + "\n") + Commands({a + " " + b + " refs/heads/agent/x"}), &c),
      ParseState::kComplete)
      << c.error;
  EXPECT_EQ(c.updates.size(), 1u);
}

TEST(PushCommands, AnythingAmbiguousIsRefused) {
  struct Case {
    std::string body, why;
  };
  std::string many;
  for (int i = 0; i <= 256; ++i)
    many += PktLine(kA + " " + kB + " refs/heads/agent/" + std::to_string(i));
  const std::vector<Case> cases = {
      {"zz00", "not a pkt-line length"},
      {"0003", "length out of range"},
      {"0000", "no ref update"},
      {PktLine("push-cert\0caps\n") + "0000", "push certificate"},
      {Commands({kA + " " + kB + " refs/heads/a", kA + " " + kB + " refs/heads/b"}),
       ""},  // control: two commands parse
      {PktLine(kA + " " + kB + " refs/heads/a\n") +
           PktLine(kA + " " + kB + std::string(" refs/heads/b\0caps", 18)) + "0000",
       "capabilities after the first command"},
      {Commands({kA + " " + kB}), "not OLD NEW REF"},
      {Commands({"x" + kA.substr(1) + " " + kB + " refs/heads/a"}), "not hex ids"},
      {Commands({kA + " " + std::string(64, 'b') + " refs/heads/a"}), "not hex ids"},
      {Commands({kA.substr(0, 39) + "A " + kB + " refs/heads/a"}), "not hex ids"},
      {Commands({kZero + " " + kZero + " refs/heads/a"}), "nothing to nothing"},
      {Commands({kA + " " + kB + " HEAD"}), "ref name"},
      {Commands({kA + " " + kB + " refs/heads/../main"}), "ref name"},
      {Commands({kA + " " + kB + " refs/heads/a b"}), "ref name"},
      {Commands({kA + " " + kB + " refs/heads/x.lock"}), "ref name"},
      {Commands({kA + " " + kB + " refs/heads/.hidden"}), "ref name"},
      {Commands({kA + " " + kB + " refs/heads/a\x01"}), "ref name"},
      {Commands({kA + " " + kB + " refs/heads/a@{1}"}), "ref name"},
      {many + "0000", "more than 256"},
  };
  for (const auto& c : cases) {
    PushCommands out;
    const ParseState st = ParsePushCommands(c.body, &out);
    if (c.why.empty()) {
      EXPECT_EQ(st, ParseState::kComplete) << out.error;
      continue;
    }
    EXPECT_EQ(st, ParseState::kMalformed) << c.why;
    EXPECT_NE(out.error.find(c.why), std::string::npos) << c.why << ": " << out.error;
  }
}

RefUpdate Update(const std::string& ref, bool create = false, bool del = false) {
  return {create ? kZero : kA, del ? kZero : kB, ref};
}

TEST(PushRules, AListedRepoTakesAgentBranchesAndNothingElseByDefault) {
  const std::vector<PushRule> rules = {ParsePushRule("Me/Proj").value()};
  EXPECT_TRUE(CheckRefUpdate(rules, "me/proj", Update("refs/heads/agent/fix")).allowed);
  EXPECT_TRUE(CheckRefUpdate(rules, "ME/PROJ", Update("refs/heads/workspace/a/b", true)).allowed)
      << "names without case; '*' spans '/'";
  for (const auto& ref : {"refs/heads/main", "refs/heads/shai-hulud", "refs/tags/v1",
                          "refs/heads/agentx", "refs/heads/Agent/fix"}) {
    const PushVerdict v = CheckRefUpdate(rules, "me/proj", Update(ref, true));
    EXPECT_FALSE(v.allowed) << ref;
    EXPECT_NE(v.reason.find(ref), std::string::npos) << v.reason;
    EXPECT_NE(v.reason.find("refs/heads/agent/*"), std::string::npos) << v.reason;
  }
  const PushVerdict del =
      CheckRefUpdate(rules, "me/proj", Update("refs/heads/agent/fix", false, true));
  EXPECT_FALSE(del.allowed) << "a deletion needs the ref named";
  const PushVerdict other = CheckRefUpdate(rules, "me/other", Update("refs/heads/agent/fix"));
  EXPECT_FALSE(other.allowed);
  EXPECT_NE(other.reason.find("--push me/other"), std::string::npos) << other.reason;
}

TEST(PushRules, NamedRefsTagsAndDeletions) {
  const std::vector<PushRule> rules = {ParsePushRule("me/proj:main").value(),
                                       ParsePushRule("me/proj:refs/tags/v*").value(),
                                       ParsePushRule("me/proj:agent/old").value()};
  EXPECT_TRUE(CheckRefUpdate(rules, "me/proj", Update("refs/heads/main")).allowed);
  EXPECT_EQ(CheckRefUpdate(rules, "me/proj", Update("refs/heads/main")).rule,
            "me/proj:refs/heads/main");
  EXPECT_FALSE(CheckRefUpdate(rules, "me/proj", Update("refs/heads/agent/x")).allowed)
      << "globs given replace the defaults";
  EXPECT_TRUE(CheckRefUpdate(rules, "me/proj", Update("refs/tags/v1.2", true)).allowed);
  EXPECT_FALSE(CheckRefUpdate(rules, "me/proj", Update("refs/tags/v1.2", false, true)).allowed);
  EXPECT_TRUE(
      CheckRefUpdate(rules, "me/proj", Update("refs/heads/agent/old", false, true)).allowed);
}

TEST(PushRules, SpecsAreChecked) {
  EXPECT_EQ(ParsePushRule("me/proj:agent/*")->ref_globs,
            (std::vector<std::string>{"refs/heads/agent/*"}));
  for (const auto& bad : {"me", "me/", "/proj", "me/proj/x", "me/..", "me/pr oj",
                          "me/proj:", "me/proj:a b", "me/proj:\x1b[2J"}) {
    EXPECT_FALSE(ParsePushRule(bad).ok()) << bad;
  }
}

TEST(GitPath, NamesTheRepositoryAndTheService) {
  auto r = ParseGitPath("/Me/Proj.git/info/refs?service=git-receive-pack");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->repo, "me/proj");
  EXPECT_EQ(r->service, GitService::kInfoRefs);
  EXPECT_EQ(ParseGitPath("/me/proj/git-receive-pack")->service, GitService::kReceivePack);
  EXPECT_EQ(ParseGitPath("/me/proj/git-upload-pack")->service, GitService::kUploadPack);
  for (const auto& other : {"/me/proj", "/me/proj/info/refs/x", "/../proj/git-receive-pack",
                            "/me/%70roj/git-receive-pack", "/me//git-receive-pack",
                            "me/proj/git-receive-pack", "/me/proj/objects/info/packs"}) {
    EXPECT_FALSE(ParseGitPath(other)) << other;
  }
}

}  // namespace
}  // namespace ws::github
